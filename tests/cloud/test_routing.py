"""Routing through the real database (SQLite and PostgreSQL): the queue's order, the ring
timeout, races between operators and replicas, and a restart with calls waiting."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.app import create_app
from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.routing import service
from cloud.routing.models import CallRecord, Outcome, Presence, Procedure, StaffingGap
from cloud.settings import BrokerSettings, CloudSettings
from protocol.v1 import CallMessage
from tests.cloud.conftest import Cloud

# Routing is stepped by the tests at fixed times, not by the app's background pass.
pytestmark = pytest.mark.usefixtures("routing_stepped_by_test")


T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 JST, a Wednesday: city hall is open
STALE = timedelta(seconds=30)


def request(kiosk_id: str, at: datetime) -> CallMessage:
    return CallMessage(
        kiosk_id=kiosk_id,
        sent_at=at,
        seq=1,
        call_id=uuid.uuid4(),
        action="request",
        terms_version="2026-04",
        privacy_version="2026-04",
    )


async def operator(cloud: Cloud, name: str, *, available_at: datetime | None) -> StaffUser:
    await cloud.make_user(Role.OPERATOR, name)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        await service.sign_in(db=db, user=user, now=available_at or T0)
        if available_at is not None:
            await service.set_presence(
                db=db, user=user, status=Presence.AVAILABLE, now=available_at
            )
        db.expunge(user)
    return user


async def queue_call(cloud: Cloud, kiosk_id: str, at: datetime) -> str:
    message = request(kiosk_id, at)
    async with transaction(cloud.app.state.sessions) as db:
        created, _ = await service.request_call(db=db, message=message, site_id="city-hall", now=at)
    assert created
    return str(message.call_id)


async def assign(cloud: Cloud, now: datetime) -> list[service.Ring]:
    async with transaction(cloud.app.state.sessions) as db:
        return await service.assign(db=db, now=now, stale_after=STALE)


async def test_longest_waiting_call_rings_the_operator_idle_longest(cloud: Cloud) -> None:
    # Heartbeats are "now" for the assignment below; idleness comes from available_since.
    late = await operator(cloud, "op-late", available_at=T0 + timedelta(seconds=20))
    early = await operator(cloud, "op-early", available_at=T0 + timedelta(seconds=10))
    first = await queue_call(cloud, "k-first", T0 + timedelta(seconds=30))
    second = await queue_call(cloud, "k-second", T0 + timedelta(seconds=31))
    third = await queue_call(cloud, "k-third", T0 + timedelta(seconds=32))
    rings = await assign(cloud, T0 + timedelta(seconds=33))
    assert [(r.call_id, r.operator_id) for r in rings] == [(first, early.id), (second, late.id)]
    async with transaction(cloud.app.state.sessions) as db:
        waiting = await service.waiting_calls(db=db)
    assert [(w.call_id, w.state, w.position) for w in waiting] == [
        (first, "ringing", 1),
        (second, "ringing", 2),
        (third, "queued", 3),
    ]
    # A repeated request (MQTT redelivery) changes nothing.
    async with transaction(cloud.app.state.sessions) as db:
        again = CallMessage.model_validate(
            {**request("k-first", T0).model_dump(), "call_id": uuid.UUID(first)}
        )
        created, _ = await service.request_call(db=db, message=again, site_id="city-hall", now=T0)
    assert not created


async def test_two_operators_accepting_the_same_call_exactly_one_wins(cloud: Cloud) -> None:
    a = await operator(cloud, "op-a", available_at=T0)
    b = await operator(cloud, "op-b", available_at=T0)
    call_id = await queue_call(cloud, "k-race", T0)

    async def take(user: StaffUser) -> str:
        try:
            async with transaction(cloud.app.state.sessions) as db:
                await service.accept(db=db, user=user, call_id=call_id, now=T0)
        except service.RoutingError:
            return "lost"
        return "won"

    results = await asyncio.gather(take(a), take(b))
    assert sorted(results) == ["lost", "won"]
    async with transaction(cloud.app.state.sessions) as db:
        call = await db.get(CallRecord, call_id)
        assert call is not None and call.state == "connected"
        winner = a if results[0] == "won" else b
        assert call.operator_id == winner.id
        loser = b if winner is a else a
        presence = await db.get(service.OperatorPresence, loser.id)
        assert presence is not None and presence.status == Presence.AVAILABLE


async def test_an_unanswered_ring_goes_back_to_the_queue_and_rings_the_next(
    cloud: Cloud,
) -> None:
    absent = await operator(cloud, "op-absent", available_at=T0)
    present = await operator(cloud, "op-present", available_at=T0 + timedelta(seconds=5))
    call_id = await queue_call(cloud, "k-ring", T0 + timedelta(seconds=6))
    [ring] = await assign(cloud, T0 + timedelta(seconds=7))
    assert ring.operator_id == absent.id
    later = T0 + timedelta(seconds=30)
    async with transaction(cloud.app.state.sessions) as db:
        missed = await service.expire_rings(db=db, now=later, ring_timeout=timedelta(seconds=20))
    assert [m.call_id for m in missed] == [call_id]
    [ring] = await assign(cloud, later)
    assert (ring.call_id, ring.operator_id) == (call_id, present.id)
    async with transaction(cloud.app.state.sessions) as db:
        presence = await db.get(service.OperatorPresence, absent.id)
        call = await db.get(CallRecord, call_id)
    assert presence is not None and presence.status == Presence.AWAY  # no more rings
    assert call is not None and call.ring_count == 2


async def test_a_call_lives_from_accept_to_outcome(cloud: Cloud) -> None:
    user = await operator(cloud, "op-life", available_at=T0)
    call_id = await queue_call(cloud, "k-life", T0)
    now = T0 + timedelta(minutes=1)
    async with transaction(cloud.app.state.sessions) as db:
        await service.accept(db=db, user=user, call_id=call_id, now=now)
        with pytest.raises(service.RoutingError):  # an operator in a call cannot go away
            await service.set_presence(db=db, user=user, status=Presence.AWAY, now=now)
    async with transaction(cloud.app.state.sessions) as db:
        with pytest.raises(service.RoutingError):  # outcome only after the call ended
            await service.record_outcome(
                db=db,
                user=user,
                call_id=call_id,
                procedure=Procedure.HEALTH_INSURANCE,
                outcome=Outcome.COMPLETED,
                reason=None,
                now=now,
            )
    async with transaction(cloud.app.state.sessions) as db:
        ended = await service.hang_up(db=db, user=user, call_id=call_id, now=now)
        presence = await db.get(service.OperatorPresence, user.id)
        assert presence is not None and presence.status == Presence.WRAP_UP
    assert ended.reason == "operator_hung_up"
    async with transaction(cloud.app.state.sessions) as db:
        with pytest.raises(service.RoutingError):  # not completed needs a reason
            await service.record_outcome(
                db=db,
                user=user,
                call_id=call_id,
                procedure=Procedure.NEW_CARD,
                outcome=Outcome.NOT_COMPLETED,
                reason=None,
                now=now,
            )
    async with transaction(cloud.app.state.sessions) as db:
        await service.record_outcome(
            db=db,
            user=user,
            call_id=call_id,
            procedure=Procedure.HEALTH_INSURANCE,
            outcome=Outcome.COMPLETED,
            reason=None,
            now=now,
        )
        presence = await db.get(service.OperatorPresence, user.id)
        assert presence is not None and presence.status == Presence.AVAILABLE
        call = await db.get(CallRecord, call_id)
        assert call is not None
        assert (call.procedure, call.outcome, call.end_reason) == (
            "health_insurance",
            "completed",
            "operator_hung_up",
        )


async def test_a_kiosk_going_offline_ends_its_call_and_frees_the_operator(cloud: Cloud) -> None:
    user = await operator(cloud, "op-off", available_at=T0)
    call_id = await queue_call(cloud, "k-off", T0)
    async with transaction(cloud.app.state.sessions) as db:
        await service.accept(db=db, user=user, call_id=call_id, now=T0)
    await cloud.app.state.router.on_kiosk_offline("k-off", T0 + timedelta(seconds=5))
    async with transaction(cloud.app.state.sessions) as db:
        call = await db.get(CallRecord, call_id)
        presence = await db.get(service.OperatorPresence, user.id)
    assert call is not None and (call.state, call.end_reason) == ("ended", "kiosk_offline")
    assert presence is not None and presence.status == Presence.WRAP_UP


async def test_a_dead_console_is_signed_out_and_its_call_requeued(cloud: Cloud) -> None:
    user = await operator(cloud, "op-dead", available_at=T0)
    call_id = await queue_call(cloud, "k-dead", T0)
    [ring] = await assign(cloud, T0)
    assert ring.operator_id == user.id
    async with transaction(cloud.app.state.sessions) as db:
        await service.release_stale_operators(
            db=db, now=T0 + timedelta(minutes=2), stale_after=STALE
        )
        presence = await db.get(service.OperatorPresence, user.id)
        call = await db.get(CallRecord, call_id)
    assert presence is not None and presence.status == Presence.OFFLINE
    assert call is not None and call.state == "queued" and call.operator_id is None


async def test_staffing_gap_opens_and_closes(cloud: Cloud) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        await service.track_staffing_gap(db=db, site_id="city-hall", uncovered=True, now=T0)
        await service.track_staffing_gap(
            db=db, site_id="city-hall", uncovered=True, now=T0 + timedelta(minutes=1)
        )
        await service.track_staffing_gap(
            db=db, site_id="city-hall", uncovered=False, now=T0 + timedelta(minutes=7)
        )
        gaps = list(await db.scalars(select(StaffingGap)))
    assert [(g.started_at, g.ended_at) for g in gaps] == [(T0, T0 + timedelta(minutes=7))]


async def test_waiting_calls_survive_a_control_plane_restart(tmp_path: Path) -> None:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}",
        mqtt=BrokerSettings(enabled=False),
    )
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        ids = []
        for n in range(3):
            message = request(f"k-restart-{n}", T0 + timedelta(seconds=n))
            await first.state.router.on_kiosk_message(message, T0 + timedelta(seconds=n))
            ids.append(str(message.call_id))
    second = create_app(settings)
    async with second.router.lifespan_context(second), transaction(second.state.sessions) as db:
        waiting = await service.waiting_calls(db=db)
    assert [w.call_id for w in waiting] == ids
    assert [w.position for w in waiting] == [1, 2, 3]


async def test_an_invite_works_once_within_its_time_and_call(cloud: Cloud) -> None:
    from cloud.routing import guests

    user = await operator(cloud, "op-invite", available_at=T0)
    other = await operator(cloud, "op-nosy", available_at=T0)
    call_id = await queue_call(cloud, "k-invite", T0)
    async with transaction(cloud.app.state.sessions) as db:
        with pytest.raises(service.RoutingError):  # not connected yet
            await guests.create_invite(db=db, user=user, call_id=call_id, now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        await service.accept(db=db, user=user, call_id=call_id, now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        with pytest.raises(service.RoutingError):  # another operator's call
            await guests.create_invite(db=db, user=other, call_id=call_id, now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        token, expires = await guests.create_invite(db=db, user=user, call_id=call_id, now=T0)
        late, _ = await guests.create_invite(db=db, user=user, call_id=call_id, now=T0)
        unused, _ = await guests.create_invite(db=db, user=user, call_id=call_id, now=T0)
    assert expires == T0 + guests.INVITE_TTL
    async with transaction(cloud.app.state.sessions) as db:
        assert await guests.redeem_invite(db=db, token=token, now=T0) == call_id
        assert await guests.redeem_invite(db=db, token=token, now=T0) is None  # used
        assert await guests.redeem_invite(db=db, token="forged", now=T0) is None
        too_late = T0 + guests.INVITE_TTL + timedelta(seconds=1)
        assert await guests.redeem_invite(db=db, token=late, now=too_late) is None
        stored = await db.scalar(select(guests.CallInvite.token_hash).limit(1))
        assert stored is not None and token not in stored  # only the hash is kept
    async with transaction(cloud.app.state.sessions) as db:
        await service.hang_up(db=db, user=user, call_id=call_id, now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        assert await guests.redeem_invite(db=db, token=unused, now=T0) is None  # call ended
