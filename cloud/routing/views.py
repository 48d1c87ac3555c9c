"""HTTP and WebSocket endpoints of routing: the operator console's socket, call records,
the queue, and the support staff's cases and crowded-kiosk alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.auth.service import user_for_token
from cloud.deps import SESSION_COOKIE, DbSession, require_roles
from cloud.routing import guests, service
from cloud.routing.console import OperatorConsole
from cloud.routing.guest_socket import GuestSession
from cloud.routing.models import CallRecord, NotCompletedReason, Outcome, Procedure, SupportCase
from protocol.v1.ids import ID_PATTERN

router = APIRouter(tags=["calls"])

CallReaders = Annotated[
    StaffUser, Depends(require_roles(Role.OPERATOR, Role.SUPPORT, Role.CITY, Role.ADMIN))
]
QueueReaders = Annotated[StaffUser, Depends(require_roles(Role.OPERATOR, Role.SUPPORT, Role.ADMIN))]
SupportStaff = Annotated[StaffUser, Depends(require_roles(Role.SUPPORT, Role.ADMIN))]
SupportReaders = Annotated[StaffUser, Depends(require_roles(Role.SUPPORT, Role.CITY, Role.ADMIN))]

# WebSocket close codes (4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _same_origin(websocket: WebSocket) -> bool:
    """Browsers send Origin on every WebSocket: a page from another site (cross-site
    WebSocket hijacking) is refused. Clients without a browser send none."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _socket_token(websocket: WebSocket) -> str | None:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return websocket.cookies.get(SESSION_COOKIE)


@router.websocket("/ws/operator")
async def operator_console(websocket: WebSocket) -> None:
    if not _same_origin(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN, reason="origin not allowed")
        return
    token = _socket_token(websocket)
    sessions = websocket.app.state.sessions
    user = None
    if token:
        async with sessions() as db, db.begin():
            user = await user_for_token(db=db, token=token)
    if user is None:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason="authentication required")
        return
    if user.role != Role.OPERATOR:
        await websocket.close(code=CLOSE_FORBIDDEN, reason="the console is for operators")
        return
    await websocket.accept()
    console = OperatorConsole(
        websocket=websocket, user=user, sessions=sessions, router=websocket.app.state.router
    )
    await console.run()


@router.websocket("/ws/guest/{token}")
async def guest_socket(websocket: WebSocket, token: str) -> None:
    """A third party invited into a call: the invite token is the credential, valid once."""
    if not _same_origin(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN, reason="origin not allowed")
        return
    sessions = websocket.app.state.sessions
    async with sessions() as db, db.begin():
        call_id = await guests.redeem_invite(db=db, token=token[:128], now=datetime.now(UTC))
    if call_id is None:
        await websocket.close(code=CLOSE_FORBIDDEN, reason="the invitation is used or expired")
        return
    await websocket.accept()
    session = GuestSession(
        websocket=websocket, call_id=call_id, sessions=sessions, router=websocket.app.state.router
    )
    await session.run()


class CallView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    call_id: str
    kiosk_id: str
    site_id: str
    state: str
    requested_at: datetime
    language: str
    terms_version: str
    privacy_version: str
    operator_id: int | None
    ring_count: int
    connected_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    support_requested: bool
    procedure: str | None
    outcome: str | None
    outcome_reason: str | None
    training: bool


@router.get("/api/calls", response_model=list[CallView])
async def list_calls(
    db: DbSession,
    user: CallReaders,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    training: bool = False,
) -> Any:
    """Call records, newest first. An operator sees only their own calls. Training calls are
    never listed with the real ones: `training=true` lists them alone."""
    query = (
        select(CallRecord)
        .where(CallRecord.training.is_(training))
        .order_by(CallRecord.requested_at.desc())
        .limit(limit)
    )
    if user.role == Role.OPERATOR:
        query = query.where(CallRecord.operator_id == user.id)
    return list(await db.scalars(query))


class WaitingView(BaseModel):
    call_id: str
    kiosk_id: str
    site_id: str
    state: str
    position: int
    requested_at: datetime
    support_requested: bool
    training: bool


@router.get("/api/queue", response_model=list[WaitingView])
async def queue(db: DbSession, user: QueueReaders, training: bool = False) -> Any:
    """The waiting calls; `training=true`: the training calls' own queue."""
    return [
        WaitingView.model_validate(w, from_attributes=True)
        for w in await service.waiting_calls(db=db, training=training)
    ]


class SupportCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(pattern=ID_PATTERN)
    kiosk_id: str | None = Field(None, pattern=ID_PATTERN)
    procedure: Procedure
    outcome: Outcome
    reason: NotCompletedReason | None = None


class SupportCaseView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    kiosk_id: str | None
    procedure: str
    outcome: str
    outcome_reason: str | None
    recorded_at: datetime


@router.post(
    "/api/support/cases", response_model=SupportCaseView, status_code=status.HTTP_201_CREATED
)
async def record_support_case(body: SupportCaseIn, db: DbSession, user: SupportStaff) -> Any:
    """A resident helped directly by the support staff (for the monthly report)."""
    if (body.outcome == Outcome.NOT_COMPLETED) != (body.reason is not None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a reason is given exactly when the outcome is not_completed",
        )
    case = SupportCase(
        site_id=body.site_id,
        kiosk_id=body.kiosk_id,
        procedure=body.procedure.value,
        outcome=body.outcome.value,
        outcome_reason=body.reason.value if body.reason else None,
        recorded_by=user.id,
        recorded_at=datetime.now(UTC),
    )
    db.add(case)
    await db.flush()
    await audit.record(
        db=db,
        actor=user.username,
        action="support_case.add",
        target=body.site_id,
        detail={"procedure": body.procedure.value, "outcome": body.outcome.value},
    )
    return case


@router.get("/api/support/cases", response_model=list[SupportCaseView])
async def list_support_cases(
    db: DbSession, user: SupportReaders, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Any:
    return list(
        await db.scalars(select(SupportCase).order_by(SupportCase.recorded_at.desc()).limit(limit))
    )


@router.get("/api/support/alerts", response_model=list[WaitingView])
async def crowded_kiosks(db: DbSession, user: SupportStaff) -> Any:
    """Waiting residents the support staff were asked to attend (the queue was long)."""
    return [
        WaitingView.model_validate(w, from_attributes=True)
        for w in await service.waiting_calls(db=db)
        if w.support_requested
    ]
