"""`/api/kiosks/{kiosk_id}/commands`, `/api/commands/{command_id}` (tech and admin) and
`/api/rollouts` (started by admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, RowId, require_roles
from cloud.fleet.service import get_kiosk
from cloud.maintenance import rollouts, service
from cloud.maintenance.models import KioskCommand, KioskLogBundle, Rollout, RolloutTarget
from cloud.maintenance.schemas import CommandCreate, CommandRead, LogBundleRead
from protocol.v1.ids import ID_PATTERN

router = APIRouter(prefix="/api", tags=["maintenance"])
Maintainer = Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))]


@router.post(
    "/kiosks/{kiosk_id}/commands",
    response_model=CommandRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def issue(
    kiosk_id: str, body: CommandCreate, user: Maintainer, db: DbSession, request: Request
) -> KioskCommand:
    if body.force and user.role != Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only an admin may force a command during a resident session"
        )
    if await get_kiosk(db=db, kiosk_id=kiosk_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no kiosk '{kiosk_id}' has reported yet")
    command = await service.issue_command(
        db=db,
        kiosk_id=kiosk_id,
        name=body.name,
        args=dict(body.args),
        force=body.force,
        issued_by=user.username,
        ttl=timedelta(seconds=body.expires_in_s),
    )
    await db.commit()  # visible to the dispatcher before it is woken
    dispatcher = request.app.state.dispatcher
    if dispatcher is not None:
        dispatcher.wake()
    return command


@router.get("/kiosks/{kiosk_id}/commands", response_model=list[CommandRead])
async def history(kiosk_id: str, _user: Maintainer, db: DbSession) -> list[KioskCommand]:
    return await service.list_commands(db=db, kiosk_id=kiosk_id)


@router.get("/commands/{command_id}", response_model=CommandRead)
async def one(command_id: str, _user: Maintainer, db: DbSession) -> KioskCommand:
    command = await service.get_command(db=db, command_id=command_id)
    if command is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command '{command_id}'")
    return command


@router.get("/commands/{command_id}/logs", response_model=LogBundleRead)
async def logs(command_id: str, _user: Maintainer, db: DbSession) -> KioskLogBundle:
    bundle = await service.get_logs(db=db, command_id=command_id)
    if bundle is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no logs received for '{command_id}'")
    return bundle


@router.get("/commands/{command_id}/screenshot")
async def screenshot(command_id: str, user: Maintainer, db: DbSession) -> Response:
    """The kiosk screen a `screenshot` command brought back (JPEG)."""
    shot = await service.get_screenshot(db=db, command_id=command_id)
    if shot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no screenshot for this command (yet)")
    return Response(shot.jpeg, media_type="image/jpeg")


class RolloutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
    url: str = Field(pattern=r"^https?://", max_length=200)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    site_id: str | None = Field(None, pattern=ID_PATTERN)
    wave_size: int = Field(5, ge=1, le=1000)
    wave_interval_s: int = Field(300, ge=0, le=86_400)
    max_failures: int = Field(1, ge=1, le=1000)


class RolloutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: str
    state: str
    wave_size: int
    wave_interval_s: int
    max_failures: int
    created_by: str
    created_at: datetime


class RolloutTargetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kiosk_id: str
    wave: int | None
    command_id: str | None
    state: str


class RolloutDetail(RolloutRead):
    targets: list[RolloutTargetRead]


Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]


@router.post("/rollouts", response_model=RolloutRead, status_code=status.HTTP_201_CREATED)
async def start_rollout(body: RolloutCreate, user: Admin, db: DbSession, request: Request) -> Any:
    """Update the agents of a site (or the fleet) in waves; admins only."""
    rollout = await rollouts.create_rollout(
        db=db, **body.model_dump(), created_by=user.username, now=datetime.now(UTC)
    )
    dispatcher = request.app.state.dispatcher
    if dispatcher is not None:
        dispatcher.wake()
    return rollout


@router.get("/rollouts/{rollout_id}", response_model=RolloutDetail)
async def rollout_status(rollout_id: RowId, user: Maintainer, db: DbSession) -> Any:
    rollout = await db.get(Rollout, rollout_id)
    if rollout is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rollout")
    targets = await db.scalars(
        select(RolloutTarget)
        .where(RolloutTarget.rollout_id == rollout_id)
        .order_by(RolloutTarget.kiosk_id)
    )
    return RolloutDetail.model_validate(
        {**RolloutRead.model_validate(rollout).model_dump(), "targets": list(targets)}
    )
