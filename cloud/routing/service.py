"""The queue's transitions, each inside the caller's transaction.

Every transition that two parties could race for (two operators accepting one call, two
replicas assigning the same call) is a conditional UPDATE or a `FOR UPDATE SKIP LOCKED`
read on PostgreSQL, so exactly one wins. SQLite (the demo) has one writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import service as audit
from cloud.auth.models import StaffUser
from cloud.manuals import service as manuals
from cloud.routing.models import (
    ACTIVE_CALL_STATES,
    CallRecord,
    CallSignal,
    CallState,
    NotCompletedReason,
    OperatorPresence,
    Outcome,
    Presence,
    Procedure,
    StaffingGap,
)
from protocol.v1 import CallMessage

# Statuses an operator may choose; the others follow from the calls.
CHOOSABLE = frozenset({Presence.AVAILABLE, Presence.AWAY})
# Until enough calls have been handled to average, a call is expected to take this long.
DEFAULT_HANDLE_TIME_S = 300


class RoutingError(Exception):
    """A transition the caller may not make now (said to the caller, nothing changed)."""


@dataclass(frozen=True, slots=True)
class Ring:
    call_id: str
    kiosk_id: str
    operator_id: int


@dataclass(frozen=True, slots=True)
class Ended:
    call_id: str
    kiosk_id: str
    operator_id: int | None
    reason: str


# --- kiosk side -------------------------------------------------------------------------------


async def request_call(
    *,
    db: AsyncSession,
    message: CallMessage,
    site_id: str,
    now: datetime,
    training: bool = False,
) -> tuple[bool, list[Ended]]:
    """Queue a kiosk's call request. Idempotent on the call id (a redelivered request changes
    nothing). A kiosk has one call at a time: an older active call of the same kiosk is
    ended as abandoned (the kiosk restarted or the resident walked away)."""
    call_id = str(message.call_id)
    if await db.get(CallRecord, call_id) is not None:
        return False, []
    ended = await end_calls_of_kiosk(db=db, kiosk_id=message.kiosk_id, reason="abandoned", now=now)
    assert message.terms_version and message.privacy_version  # the protocol requires them
    db.add(
        CallRecord(
            call_id=call_id,
            kiosk_id=message.kiosk_id,
            site_id=site_id,
            state=CallState.QUEUED,
            requested_at=now,
            language=message.language or "ja",
            terms_version=message.terms_version,
            privacy_version=message.privacy_version,
            ring_count=0,
            support_requested=False,
            answer_sent=False,
            training=training,
        )
    )
    await db.flush()
    return True, ended


async def kiosk_call(*, db: AsyncSession, call_id: UUID | str, kiosk_id: str) -> CallRecord | None:
    """The call, if it belongs to `kiosk_id` (a kiosk cannot touch another kiosk's call)."""
    call = await db.get(CallRecord, str(call_id))
    if call is None or call.kiosk_id != kiosk_id:
        return None
    return call


async def store_offer(*, db: AsyncSession, message: CallMessage) -> bool:
    """Keep the kiosk's SDP offer for the operator's browser; only for a connected call."""
    call = await kiosk_call(db=db, call_id=message.call_id, kiosk_id=message.kiosk_id)
    if call is None or call.state != CallState.CONNECTED or message.sdp is None:
        return False
    call.kiosk_offer = message.sdp
    await db.flush()
    return True


# --- operators --------------------------------------------------------------------------------


async def presence_of(*, db: AsyncSession, user_id: int) -> OperatorPresence | None:
    return await db.get(OperatorPresence, user_id)


async def sign_in(*, db: AsyncSession, user: StaffUser, now: datetime) -> OperatorPresence:
    """The operator's console connected: present, away until they choose available."""
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is None:
        presence = OperatorPresence(
            user_id=user.id, status=Presence.AWAY, since=now, heartbeat_at=now
        )
        db.add(presence)
        await audit.record(db=db, actor=user.username, action="presence.sign_in", target="console")
    elif presence.status == Presence.OFFLINE:
        presence.status, presence.since = Presence.AWAY, now
        await audit.record(db=db, actor=user.username, action="presence.sign_in", target="console")
    presence.heartbeat_at = now
    await db.flush()
    return presence


async def heartbeat(*, db: AsyncSession, user_id: int, now: datetime) -> None:
    await db.execute(
        update(OperatorPresence).where(OperatorPresence.user_id == user_id).values(heartbeat_at=now)
    )


async def set_presence(
    *, db: AsyncSession, user: StaffUser, status: Presence, now: datetime
) -> OperatorPresence:
    if status not in CHOOSABLE:
        raise RoutingError(f"presence '{status}' follows from calls and cannot be chosen")
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is None:
        raise RoutingError("the console is not connected")
    if presence.status in (Presence.IN_CALL, Presence.WRAP_UP):
        raise RoutingError("finish the current call and its outcome first")
    if presence.status == Presence.RINGING and status == Presence.AWAY:
        await _requeue_ringing(db=db, operator_id=user.id)
    if presence.status != status:
        presence.status, presence.since = status, now
        presence.available_since = now if status == Presence.AVAILABLE else None
        await audit.record(
            db=db, actor=user.username, action=f"presence.{status.value}", target="console"
        )
    presence.heartbeat_at = now
    await db.flush()
    return presence


async def sign_out(*, db: AsyncSession, user: StaffUser, now: datetime) -> list[Ended]:
    """The console went away: a call in progress ends (the kiosk is told), a ringing call
    goes back to the queue, and the operator is offline."""
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is None:
        return []
    await _requeue_ringing(db=db, operator_id=user.id)
    connected = list(
        await db.scalars(
            select(CallRecord).where(
                CallRecord.operator_id == user.id, CallRecord.state == CallState.CONNECTED
            )
        )
    )
    ended = [
        await _end(db=db, call=call, reason="operator_disconnected", now=now) for call in connected
    ]
    presence.status, presence.since, presence.available_since = Presence.OFFLINE, now, None
    presence.call_id = None
    presence.training = False  # a new session starts out of training mode
    await audit.record(db=db, actor=user.username, action="presence.sign_out", target="console")
    await db.flush()
    return ended


async def set_training(
    *, db: AsyncSession, user: StaffUser, enabled: bool, now: datetime
) -> OperatorPresence:
    """研修モード on or off: from then on the console takes only training calls (on) or only
    real ones (off). Not while a call is ringing, in progress or being wrapped up."""
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is None or presence.status == Presence.OFFLINE:
        raise RoutingError("the console is not connected")
    if presence.status in (Presence.RINGING, Presence.IN_CALL, Presence.WRAP_UP):
        raise RoutingError("finish the current call and its outcome first")
    if presence.training != enabled:
        presence.training = enabled
        await audit.record(
            db=db,
            actor=user.username,
            action="presence.training_on" if enabled else "presence.training_off",
            target="console",
        )
    presence.heartbeat_at = now
    await db.flush()
    return presence


async def accept(*, db: AsyncSession, user: StaffUser, call_id: str, now: datetime) -> CallRecord:
    """Take a call: one ringing at this operator, or one still waiting in the queue.
    The conditional UPDATE makes a race between two operators end with one winner."""
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is None or presence.status not in (Presence.AVAILABLE, Presence.RINGING):
        raise RoutingError("only an available operator can accept a call")
    taken = await db.execute(
        update(CallRecord)
        .where(
            CallRecord.call_id == call_id,
            # A training call only in training mode, a real call never in it.
            CallRecord.training.is_(presence.training),
            or_(
                CallRecord.state == CallState.QUEUED,
                and_(CallRecord.state == CallState.RINGING, CallRecord.operator_id == user.id),
            ),
        )
        .values(
            state=CallState.CONNECTED,
            operator_id=user.id,
            connected_at=now,
            manual_version=await manuals.in_force_number(db=db),  # the manual the operator had
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise RoutingError("the call is no longer waiting (another operator took it or it ended)")
    # A different call that was ringing here goes back to the queue.
    await db.execute(
        update(CallRecord)
        .where(
            CallRecord.operator_id == user.id,
            CallRecord.state == CallState.RINGING,
            CallRecord.call_id != call_id,
        )
        .values(state=CallState.QUEUED, operator_id=None, ring_started_at=None)
        .execution_options(synchronize_session=False)
    )
    presence.status, presence.since, presence.available_since = Presence.IN_CALL, now, None
    presence.call_id = call_id
    call = await db.get(CallRecord, call_id, populate_existing=True)
    assert call is not None
    await audit.record(db=db, actor=user.username, action="call.accept", target=call_id)
    await db.flush()
    return call


async def operator_call(*, db: AsyncSession, user: StaffUser, call_id: str) -> CallRecord | None:
    """The call, if it is this operator's (an operator sees only their own calls)."""
    call = await db.get(CallRecord, call_id)
    if call is None or call.operator_id != user.id:
        return None
    return call


async def mark_answer_sent(*, db: AsyncSession, call: CallRecord) -> None:
    call.answer_sent = True
    await db.flush()


async def hang_up(*, db: AsyncSession, user: StaffUser, call_id: str, now: datetime) -> Ended:
    call = await operator_call(db=db, user=user, call_id=call_id)
    if call is None or call.state != CallState.CONNECTED:
        raise RoutingError("no such call in progress for this operator")
    await audit.record(db=db, actor=user.username, action="call.end", target=call_id)
    return await _end(db=db, call=call, reason="operator_hung_up", now=now)


async def record_outcome(
    *,
    db: AsyncSession,
    user: StaffUser,
    call_id: str,
    procedure: Procedure,
    outcome: Outcome,
    reason: NotCompletedReason | None,
    now: datetime,
) -> CallRecord:
    """The operator's outcome form; ends wrap-up (the operator is available again)."""
    if outcome == Outcome.NOT_COMPLETED and reason is None:
        raise RoutingError("a call that was not completed needs a reason")
    if outcome != Outcome.NOT_COMPLETED and reason is not None:
        raise RoutingError("a reason is given only for a call that was not completed")
    call = await operator_call(db=db, user=user, call_id=call_id)
    if call is None or call.state != CallState.ENDED:
        raise RoutingError("the outcome is recorded for an ended call of this operator")
    call.procedure, call.outcome = procedure.value, outcome.value
    call.outcome_reason = reason.value if reason else None
    call.outcome_at = now
    presence = await db.get(OperatorPresence, user.id, with_for_update=True)
    if presence is not None and presence.status == Presence.WRAP_UP and presence.call_id == call_id:
        presence.status, presence.since, presence.available_since = Presence.AVAILABLE, now, now
        presence.call_id = None
    await audit.record(
        db=db,
        actor=user.username,
        action="call.outcome",
        target=call_id,
        detail={"procedure": procedure.value, "outcome": outcome.value},
    )
    await db.flush()
    return call


# --- ending -----------------------------------------------------------------------------------


async def _end(*, db: AsyncSession, call: CallRecord, reason: str, now: datetime) -> Ended:
    was_connected = call.state == CallState.CONNECTED
    operator_id = call.operator_id
    call.state, call.ended_at, call.end_reason = CallState.ENDED, now, reason
    call.kiosk_offer = None  # signaling is transient
    await db.execute(delete(CallSignal).where(CallSignal.call_id == call.call_id))
    if operator_id is not None:
        presence = await db.get(OperatorPresence, operator_id, with_for_update=True)
        if presence is not None and presence.status in (Presence.RINGING, Presence.IN_CALL):
            if was_connected:
                # Wrap-up: the operator records the outcome before the next call.
                presence.status, presence.since = Presence.WRAP_UP, now
                presence.call_id = call.call_id
            else:
                presence.status, presence.since, presence.available_since = (
                    Presence.AVAILABLE,
                    now,
                    now,
                )
        if not was_connected:
            call.operator_id = None
    await db.flush()
    return Ended(call.call_id, call.kiosk_id, operator_id if was_connected else None, reason)


async def end_kiosk_call(
    *, db: AsyncSession, message: CallMessage, reason: str, now: datetime
) -> Ended | None:
    """The kiosk cancelled or hung up."""
    call = await kiosk_call(db=db, call_id=message.call_id, kiosk_id=message.kiosk_id)
    if call is None or call.state == CallState.ENDED:
        return None
    return await _end(db=db, call=call, reason=reason, now=now)


async def end_calls_of_kiosk(
    *, db: AsyncSession, kiosk_id: str, reason: str, now: datetime
) -> list[Ended]:
    calls = list(
        await db.scalars(
            select(CallRecord)
            .where(CallRecord.kiosk_id == kiosk_id, CallRecord.state.in_(ACTIVE_CALL_STATES))
            .with_for_update()
        )
    )
    return [await _end(db=db, call=call, reason=reason, now=now) for call in calls]


async def _requeue_ringing(*, db: AsyncSession, operator_id: int) -> None:
    await db.execute(
        update(CallRecord)
        .where(CallRecord.operator_id == operator_id, CallRecord.state == CallState.RINGING)
        .values(state=CallState.QUEUED, operator_id=None, ring_started_at=None)
        .execution_options(synchronize_session=False)
    )


# --- the router's steps -----------------------------------------------------------------------


async def expire_rings(*, db: AsyncSession, now: datetime, ring_timeout: timedelta) -> list[Ring]:
    """Rings nobody answered: the call goes back to its place in the queue and the operator
    who missed it is set away (so the next call does not ring an empty chair)."""
    missed = list(
        await db.scalars(
            select(CallRecord)
            .where(
                CallRecord.state == CallState.RINGING,
                CallRecord.ring_started_at < now - ring_timeout,
            )
            .with_for_update(skip_locked=True)
        )
    )
    rings = []
    for call in missed:
        assert call.operator_id is not None
        rings.append(Ring(call.call_id, call.kiosk_id, call.operator_id))
        presence = await db.get(OperatorPresence, call.operator_id, with_for_update=True)
        if presence is not None and presence.status == Presence.RINGING:
            presence.status, presence.since, presence.available_since = Presence.AWAY, now, None
        call.state, call.operator_id, call.ring_started_at = CallState.QUEUED, None, None
    await db.flush()
    return rings


async def release_stale_operators(
    *, db: AsyncSession, now: datetime, stale_after: timedelta
) -> list[Ended]:
    """Consoles whose replica died without saying so: treat them as signed out."""
    stale = list(
        await db.scalars(
            select(OperatorPresence)
            .where(
                OperatorPresence.status != Presence.OFFLINE,
                OperatorPresence.heartbeat_at < now - stale_after,
            )
            .with_for_update(skip_locked=True)
        )
    )
    ended: list[Ended] = []
    for presence in stale:
        user = await db.get(StaffUser, presence.user_id)
        if user is not None:
            ended += await sign_out(db=db, user=user, now=now)
    return ended


async def assign(*, db: AsyncSession, now: datetime, stale_after: timedelta) -> list[Ring]:
    """Ring the available operator idle longest with the longest-waiting call, repeatedly.
    `SKIP LOCKED` lets replicas assign in parallel without ever pairing one call twice."""
    rings: list[Ring] = []
    # Two separate pools: real calls to operators out of training mode, training calls only
    # to operators in it. A training call waiting never holds up a real one, nor vice versa.
    for training in (False, True):
        rings += await _assign_pool(db=db, now=now, stale_after=stale_after, training=training)
    return rings


async def _assign_pool(
    *, db: AsyncSession, now: datetime, stale_after: timedelta, training: bool
) -> list[Ring]:
    rings: list[Ring] = []
    while True:
        call = await db.scalar(
            select(CallRecord)
            .where(CallRecord.state == CallState.QUEUED, CallRecord.training.is_(training))
            .order_by(CallRecord.requested_at, CallRecord.call_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if call is None:
            return rings
        operator = await db.scalar(
            select(OperatorPresence)
            .where(
                OperatorPresence.status == Presence.AVAILABLE,
                OperatorPresence.heartbeat_at >= now - stale_after,
                OperatorPresence.training.is_(training),
            )
            .order_by(OperatorPresence.available_since, OperatorPresence.user_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if operator is None:
            return rings
        call.state, call.operator_id, call.ring_started_at = (
            CallState.RINGING,
            operator.user_id,
            now,
        )
        call.ring_count += 1
        operator.status, operator.since = Presence.RINGING, now
        operator.call_id = call.call_id
        await db.flush()
        rings.append(Ring(call.call_id, call.kiosk_id, operator.user_id))


@dataclass(frozen=True, slots=True)
class Waiting:
    call_id: str
    kiosk_id: str
    site_id: str
    state: str
    position: int
    requested_at: datetime
    support_requested: bool
    announced_position: int | None = None
    training: bool = False


async def waiting_calls(*, db: AsyncSession, training: bool = False) -> list[Waiting]:
    """Queued and ringing calls in queue order (position 1 is served next): the real queue,
    or with `training` the training calls' own queue."""
    calls = await db.scalars(
        select(CallRecord)
        .where(
            CallRecord.state.in_((CallState.QUEUED, CallState.RINGING)),
            CallRecord.training.is_(training),
        )
        .order_by(CallRecord.requested_at, CallRecord.call_id)
    )
    return [
        Waiting(
            c.call_id,
            c.kiosk_id,
            c.site_id,
            c.state,
            i,
            c.requested_at,
            c.support_requested,
            training=c.training,
        )
        for i, c in enumerate(calls, start=1)
    ]


async def average_handle_time_s(*, db: AsyncSession) -> float:
    recent = (
        select(CallRecord.ended_at, CallRecord.connected_at)
        .where(
            CallRecord.connected_at.is_not(None),
            CallRecord.ended_at.is_not(None),
            CallRecord.training.is_(False),  # practice calls say nothing of real handling
        )
        .order_by(CallRecord.ended_at.desc())
        .limit(20)
    )
    rows = (await db.execute(recent)).all()
    if len(rows) < 3:
        return DEFAULT_HANDLE_TIME_S
    total = sum(
        (ended - connected).total_seconds() for ended, connected in rows if ended and connected
    )
    return float(total) / len(rows)


async def staffed_operators(
    *, db: AsyncSession, now: datetime, stale_after: timedelta, training: bool = False
) -> int:
    """Operators signed in and not away: the ones who will take the queue's calls (those in
    training mode take only the training queue's)."""
    count = await db.scalar(
        select(func.count())
        .select_from(OperatorPresence)
        .where(
            OperatorPresence.status.in_(
                (Presence.AVAILABLE, Presence.RINGING, Presence.IN_CALL, Presence.WRAP_UP)
            ),
            OperatorPresence.heartbeat_at >= now - stale_after,
            OperatorPresence.training.is_(training),
        )
    )
    return int(count or 0)


async def claim_announcement(*, db: AsyncSession, call_id: str, position: int) -> bool:
    """True for the one replica that should tell the kiosk its new position."""
    changed = await db.execute(
        update(CallRecord)
        .where(
            CallRecord.call_id == call_id,
            CallRecord.state == CallState.QUEUED,
            or_(
                CallRecord.announced_position.is_(None),
                CallRecord.announced_position != position,
            ),
        )
        .values(announced_position=position)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


async def claim_support(*, db: AsyncSession, call_id: str) -> bool:
    """True once per call: the support staff are asked to come to this kiosk."""
    changed = await db.execute(
        update(CallRecord)
        .where(CallRecord.call_id == call_id, CallRecord.support_requested.is_(False))
        .values(support_requested=True)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


async def track_staffing_gap(
    *, db: AsyncSession, site_id: str, uncovered: bool, now: datetime
) -> None:
    """Open a gap when an open site's windows can reach no operator; close it when one is
    back or the site closes."""
    open_gap = await db.scalar(
        select(StaffingGap)
        .where(StaffingGap.site_id == site_id, StaffingGap.ended_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if uncovered and open_gap is None:
        db.add(StaffingGap(site_id=site_id, started_at=now))
    elif not uncovered and open_gap is not None:
        open_gap.ended_at = now
    await db.flush()
