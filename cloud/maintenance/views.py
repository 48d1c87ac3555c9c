"""`/api/kiosks/{kiosk_id}/commands` and `/api/commands/{command_id}`: tech and admin only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, require_roles
from cloud.fleet.service import get_kiosk
from cloud.maintenance import service
from cloud.maintenance.models import KioskCommand, KioskLogBundle
from cloud.maintenance.schemas import CommandCreate, CommandRead, LogBundleRead

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
