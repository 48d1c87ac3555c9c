"""Third parties in a call: single-use, time-limited invites and the console↔guest relay.

The guest connects to the operator's browser only. The browser forwards the resident's
camera and voice to the guest and mixes the guest's voice into what the kiosk hears, so the
kiosk encodes its video once whatever the number of viewers (aiortc encodes per peer), and
a guest never gets the data channel: audio and video only, no remote control.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import service as audit
from cloud.auth.models import StaffUser
from cloud.routing.models import CallInvite, CallRecord, CallSignal, CallState
from cloud.routing.service import RoutingError, operator_call

INVITE_TTL = timedelta(minutes=10)
RECIPIENTS = frozenset({"operator", "guest"})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invite(
    *, db: AsyncSession, user: StaffUser, call_id: str, now: datetime
) -> tuple[str, datetime]:
    call = await operator_call(db=db, user=user, call_id=call_id)
    if call is None or call.state != CallState.CONNECTED:
        raise RoutingError("invite a third party only into your call in progress")
    token = secrets.token_urlsafe(32)
    expires_at = now + INVITE_TTL
    db.add(
        CallInvite(
            token_hash=_hash(token),
            call_id=call_id,
            created_by=user.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await audit.record(db=db, actor=user.username, action="call.invite", target=call_id)
    await db.flush()
    return token, expires_at


async def redeem_invite(*, db: AsyncSession, token: str, now: datetime) -> str | None:
    """The call id, once: an unknown, used or expired token, or a call no longer in
    progress, gives None (and the guest is told only that the link is not valid)."""
    invite = await db.get(CallInvite, _hash(token))
    if invite is None:
        return None
    used = await db.execute(
        update(CallInvite)
        .where(
            CallInvite.token_hash == invite.token_hash,
            CallInvite.used_at.is_(None),
            CallInvite.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    call = await db.get(CallRecord, invite.call_id)
    if call is None or call.state != CallState.CONNECTED:
        return None
    await audit.record(db=db, actor="guest", action="call.guest_joined", target=invite.call_id)
    return invite.call_id


async def post_signal(
    *, db: AsyncSession, call_id: str, recipient: str, kind: str, sdp: str | None, now: datetime
) -> None:
    assert recipient in RECIPIENTS
    db.add(CallSignal(call_id=call_id, recipient=recipient, kind=kind, sdp=sdp, created_at=now))
    await db.flush()


async def signals_after(
    *, db: AsyncSession, call_id: str, recipient: str, after_id: int
) -> list[CallSignal]:
    return list(
        await db.scalars(
            select(CallSignal)
            .where(
                CallSignal.call_id == call_id,
                CallSignal.recipient == recipient,
                CallSignal.id > after_id,
            )
            .order_by(CallSignal.id)
        )
    )


async def forget_call(*, db: AsyncSession, call_id: str) -> None:
    """Signaling is transient: gone when the call ends."""
    await db.execute(delete(CallSignal).where(CallSignal.call_id == call_id))
