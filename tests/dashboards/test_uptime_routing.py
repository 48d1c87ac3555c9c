"""The uptime and routing dashboards, value by value: one afternoon at two sites played through
the control plane's real paths (kiosk states into the registry, calls through the router and
the operators' service, shifts on the roster, a real PostgreSQL), written by the real uptime
and routing recorders into a real VictoriaMetrics; then every panel's every query is run as
Grafana would run it and its series and values are compared with what the afternoon says.

A panel with a query that this test does not check fails the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.models import Role, StaffUser
from cloud.auth.service import create_user
from cloud.calendar.lookup import OpeningHours
from cloud.calendar.schedule import SiteSchedule
from cloud.db.engine import make_engine, make_sessionmaker, transaction
from cloud.db.migrate import upgrade
from cloud.fleet import service as fleet
from cloud.fleet.timeseries import TelemetryWriter
from cloud.fleet.uptime import UptimeRecorder
from cloud.routing import service as routing
from cloud.routing.hub import RoutingHub
from cloud.routing.metrics import RoutingRecorder
from cloud.routing.models import CallRecord, Outcome, Presence, Procedure
from cloud.routing.publisher import CallPublisher
from cloud.routing.router import CallRouter
from cloud.settings import BrokerSettings, CallSettings, CloudSettings, TimeSeriesSettings
from cloud.shifts.service import add_shift
from dashboards.alerts import RULES
from dashboards.build import dashboard_json
from protocol.v1 import CallMessage, Peripheral, StateMessage
from tests.dashboards.promql import instant, label_values, query_range
from tests.servers import VictoriaMetrics

# A Monday afternoon in the past (the store keeps the past); the sites close at 17:15 JST.
DAY = date(2026, 11, 16)
START = datetime(2026, 11, 16, 7, 15, tzinfo=UTC)  # 16:15 JST
MINUTES = 90  # to 17:45 JST: an hour open, half an hour closed
END = START + timedelta(minutes=MINUTES - 1)  # the last minute written
CLOSES = datetime(2026, 11, 16, 8, 15, tzinfo=UTC)  # 17:15 JST
EAST, WEST = "dash-east", "dash-west"
SITE_FILTER = f"({EAST}|{WEST})"
KIOSK_SITES = {"dash-e1": EAST, "dash-e2": EAST, "dash-w1": WEST, "dash-wt": WEST}
TRAINING_KIOSK = "dash-wt"


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, 16, hh, mm, ss, tzinfo=UTC)


def minute_range(first: datetime, last: datetime) -> set[datetime]:
    return {first + timedelta(minutes=i) for i in range(int((last - first).seconds // 60) + 1)}


# --- the afternoon ------------------------------------------------------------------------------

# Minutes each kiosk is down. dash-e2 is down 15 of its 60 open minutes (75 %); both east kiosks
# are down after closing, which must not lower anything; the training kiosk is never up.
DOWN = {
    "dash-e1": minute_range(at(8, 20), END),
    "dash-e2": minute_range(at(7, 45), at(7, 59)) | minute_range(at(8, 30), END),
    "dash-w1": set(),
    "dash-wt": minute_range(START, END),
}


@dataclass(frozen=True)
class Call:
    kiosk: str
    requested: datetime
    answered: datetime | None = None  # by op1 (or the trainee for a training call)
    hung_up: datetime | None = None  # right after answering unless given
    cancelled: datetime | None = None

    @property
    def site(self) -> str:
        return KIOSK_SITES[self.kiosk]

    @property
    def training(self) -> bool:
        return self.kiosk == TRAINING_KIOSK

    @property
    def left_queue(self) -> datetime | None:
        return self.answered or self.cancelled

    @property
    def outcome(self) -> str:
        return "answered" if self.answered else "abandoned"

    @property
    def wait_s(self) -> float:
        assert self.left_queue is not None
        return (self.left_queue - self.requested).total_seconds()


def _east_answered() -> list[Call]:
    """Eleven calls at dash-east answered after 10, 20, … 110 seconds."""
    calls = []
    for i in range(11):
        requested = at(7, 20) + timedelta(minutes=2 * i)
        calls.append(
            Call("dash-e1", requested, answered=requested + timedelta(seconds=10 * (i + 1)))
        )
    return calls


CALLS = [
    *_east_answered(),
    Call("dash-w1", at(7, 25), answered=at(7, 25, 30)),
    Call("dash-w1", at(7, 30), answered=at(7, 31)),
    # Still in the call when the 07:50 minute is sampled (at 07:50:50).
    Call("dash-w1", at(7, 48, 50), answered=at(7, 50, 20), hung_up=at(7, 51, 20)),
    Call("dash-w1", at(7, 40), cancelled=at(7, 40, 20)),
    Call("dash-e1", at(7, 42), cancelled=at(7, 42, 45)),
    Call("dash-e1", at(7, 44), cancelled=at(7, 45, 15)),
    # Two residents wait at dash-east from 08:02 and 08:04, give up at 08:10.
    Call("dash-e1", at(8, 2), cancelled=at(8, 10)),
    Call("dash-e2", at(8, 4), cancelled=at(8, 10)),
    # Training calls: answered after 500 s, and one waiting while the real ones do.
    Call(TRAINING_KIOSK, at(7, 35), answered=at(7, 43, 20)),
    Call(TRAINING_KIOSK, at(8, 3), cancelled=at(8, 12)),
]
REAL_CALLS = [c for c in CALLS if not c.training]
SAMPLE_S = 50  # the recorders run at mm:50; their points carry the minute (mm:00)


def is_open(minute: datetime) -> bool:
    return START <= minute < CLOSES


def up(kiosk: str, minute: datetime) -> bool:
    return minute not in DOWN[kiosk]


# --- what the afternoon says (the expected values, from the data above) ------------------------

Labels = tuple[tuple[str, str], ...]
Values = dict[Labels, float]


def labels(**named: str) -> Labels:
    return tuple(sorted(named.items()))


REAL_KIOSKS = [k for k in KIOSK_SITES if k != TRAINING_KIOSK]


def uptime_minutes(
    window: Iterable[datetime], by: Callable[[str], Labels]
) -> dict[Labels, list[int]]:
    """[serviceable, open] kiosk-minutes per group."""
    totals: dict[Labels, list[int]] = {}
    for minute in window:
        for kiosk in REAL_KIOSKS:
            group = totals.setdefault(by(kiosk), [0, 0])
            group[0] += int(up(kiosk, minute) and is_open(minute))
            group[1] += int(is_open(minute))
    return totals


def by_site(kiosk: str) -> Labels:
    return labels(site_id=KIOSK_SITES[kiosk])


def by_kiosk(kiosk: str) -> Labels:
    return labels(kiosk_id=kiosk, site_id=KIOSK_SITES[kiosk])


def everything(_kiosk: str) -> Labels:
    return ()


def window(end: datetime, minutes: int) -> list[datetime]:
    """Minutes written in (end − minutes, end], as a `[…:1m]` subquery sees them."""
    return [m for m in minute_range(START, END) if end - timedelta(minutes=minutes) < m <= end]


def ratio(totals: dict[Labels, list[int]]) -> Values:
    return {key: up_ / open_ for key, (up_, open_) in totals.items() if open_}


def column(totals: dict[Labels, list[int]], index: int) -> Values:
    return {key: float(values[index]) for key, values in totals.items()}


def quantile(phi: float, values: list[float]) -> float:
    """Prometheus's φ-quantile (linear between the closest ranks), as VictoriaMetrics has it."""
    ordered = sorted(values)
    rank = phi * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def left_queue(first: datetime, last: datetime, outcome: str | None = None) -> list[Call]:
    """Real calls that left the queue in (first, last]."""
    return [
        c
        for c in REAL_CALLS
        if c.left_queue is not None
        and first < c.left_queue <= last
        and (outcome is None or c.outcome == outcome)
    ]


def per_site(calls: list[Call], reduce: Callable[[list[float]], float]) -> Values:
    sites: dict[str, list[float]] = {}
    for call in calls:
        sites.setdefault(call.site, []).append(call.wait_s)
    return {labels(site_id=site): reduce(waits) for site, waits in sites.items()}


def waiting_at(sample: datetime, site: str) -> list[Call]:
    return [
        c
        for c in REAL_CALLS
        if c.site == site
        and c.requested <= sample
        and (c.left_queue is None or c.left_queue > sample)
    ]


def in_call_at(sample: datetime, site: str) -> int:
    return sum(
        1
        for c in REAL_CALLS
        if c.site == site and c.answered and c.answered <= sample < (c.hung_up or c.answered)
    )


def sample_of(minute: datetime) -> datetime:
    return minute + timedelta(seconds=SAMPLE_S)


def operators_needed(minute: datetime) -> int:
    # dash-east has two windows, dash-west one (its training kiosk is no window).
    return 3 if is_open(sample_of(minute)) else 0


ON_DUTY = 1  # op1 (op2 is away, the trainee takes no real call)
ON_SHIFT = 2  # op1 and op2 are on the roster 16:00-18:00


@dataclass(frozen=True)
class Check:
    """What one query returns: `values` at `when` (instant) or at each time of `series`."""

    when: datetime = END
    values: Values | None = None
    series: dict[datetime, Values] | None = None


RANGE_90M = "90m"  # the dashboards' $__range: the whole afternoon


def expected_checks() -> dict[tuple[str, str, str], Check]:
    afternoon = window(END, MINUTES)
    sites_now = uptime_minutes(afternoon, by_site)
    kiosks_now = uptime_minutes(afternoon, by_kiosk)
    total = uptime_minutes(afternoon, everything)
    lost = sum(1 for m in afternoon for k in REAL_KIOSKS if is_open(m) and not up(k, m))
    queue_time = at(8, 7)  # two residents waiting at dash-east, the older one for 350 s
    call_time = at(7, 50)  # a call in progress at dash-west
    answered = left_queue(END - timedelta(minutes=MINUTES), END, "answered")
    abandoned = left_queue(END - timedelta(minutes=MINUTES), END, "abandoned")
    hourly_times = [at(7, 30), at(8, 0), at(8, 44)]

    def open_and_serviceable(minute: datetime) -> tuple[Values, Values]:
        opened: Values = {}
        served: Values = {}
        for kiosk in REAL_KIOSKS:
            key = by_site(kiosk)
            opened[key] = opened.get(key, 0) + int(is_open(minute))
            served[key] = served.get(key, 0) + int(is_open(minute) and up(kiosk, minute))
        return opened, served

    times = [at(7, 50), at(8, 10), at(8, 30)]
    rolling_times = [at(7, 50), at(8, 14), at(8, 40)]
    queue_times = [at(8, 1), at(8, 5), queue_time, at(8, 11)]

    def queue(minute: datetime) -> Values:
        return {
            labels(site_id=s): float(len(waiting_at(sample_of(minute), s))) for s in (EAST, WEST)
        }

    def oldest(minute: datetime) -> Values:
        values = {}
        for site in (EAST, WEST):
            waiting = waiting_at(sample_of(minute), site)
            values[labels(site_id=site)] = (
                max((sample_of(minute) - c.requested).total_seconds() for c in waiting)
                if waiting
                else 0.0
            )
        return values

    def hour(when: datetime, outcome: str) -> Values:
        return per_site(left_queue(when - timedelta(hours=1), when, outcome), len)

    def hour_quantile(when: datetime, phi: float) -> Values:
        calls = left_queue(when - timedelta(hours=1), when, "answered")
        return per_site(calls, lambda waits: quantile(phi, waits))

    return {
        # Uptime during opening hours.
        ("uptime", "Uptime during opening hours", "A"): Check(values=ratio(total)),
        ("uptime", "Kiosk-minutes lost during opening hours", "A"): Check(values={(): lost}),
        ("uptime", "Kiosk-minutes open", "A"): Check(values=column(total, 1)),
        ("uptime", "Target", "A"): Check(values={(): 0.99}),
        ("uptime", "Uptime by site", "A"): Check(values=ratio(sites_now)),
        ("uptime", "Uptime by site", "B"): Check(values=column(sites_now, 0)),
        ("uptime", "Uptime by site", "C"): Check(values=column(sites_now, 1)),
        ("uptime", "Uptime by kiosk", "A"): Check(values=ratio(kiosks_now)),
        ("uptime", "Uptime by kiosk", "B"): Check(values=column(kiosks_now, 0)),
        ("uptime", "Uptime by kiosk", "C"): Check(values=column(kiosks_now, 1)),
        ("uptime", "Kiosks open vs serviceable", "A"): Check(
            series={t: open_and_serviceable(t)[0] for t in times}
        ),
        ("uptime", "Kiosks open vs serviceable", "B"): Check(
            series={t: open_and_serviceable(t)[1] for t in times}
        ),
        ("uptime", "Uptime by site over the past hour, against the target", "A"): Check(
            series={t: ratio(uptime_minutes(window(t, 60), by_site)) for t in rolling_times}
        ),
        ("uptime", "Uptime by site over the past hour, against the target", "B"): Check(
            series={t: {(): 0.99} for t in rolling_times}
        ),
        # Routing.
        ("routing", "Waiting now", "A"): Check(
            when=queue_time, values={(): sum(queue(queue_time).values())}
        ),
        ("routing", "Longest wait now", "A"): Check(
            when=queue_time, values={(): max(oldest(queue_time).values())}
        ),
        ("routing", "Calls answered", "A"): Check(values={(): float(len(answered))}),
        ("routing", "Calls abandoned", "A"): Check(values={(): float(len(abandoned))}),
        ("routing", "Abandoned share", "A"): Check(
            values={(): len(abandoned) / (len(answered) + len(abandoned))}
        ),
        ("routing", "Operators short now", "A"): Check(
            when=queue_time, values={(): float(operators_needed(queue_time) - ON_DUTY)}
        ),
        ("routing", "Time to answer by site", "A"): Check(
            values=per_site(answered, lambda w: quantile(0.5, w))
        ),
        ("routing", "Time to answer by site", "B"): Check(
            values=per_site(answered, lambda w: quantile(0.9, w))
        ),
        ("routing", "Time to answer by site", "C"): Check(values=per_site(answered, len)),
        ("routing", "Time to answer by site", "D"): Check(values=per_site(abandoned, len)),
        ("routing", "Queue length by site", "A"): Check(series={t: queue(t) for t in queue_times}),
        ("routing", "Queue length by site", "B"): Check(
            series={
                t: {labels(site_id=s): float(in_call_at(sample_of(t), s)) for s in (EAST, WEST)}
                for t in (call_time, at(7, 51))
            }
        ),
        ("routing", "Longest wait in the queue", "A"): Check(
            series={t: oldest(t) for t in queue_times}
        ),
        ("routing", "Time to answer (last hour)", "A"): Check(
            series={t: hour_quantile(t, 0.5) for t in hourly_times}
        ),
        ("routing", "Time to answer (last hour)", "B"): Check(
            series={t: hour_quantile(t, 0.9) for t in hourly_times}
        ),
        ("routing", "Calls per hour", "A"): Check(
            series={t: hour(t, "answered") for t in hourly_times}
        ),
        ("routing", "Calls per hour", "B"): Check(
            series={t: hour(t, "abandoned") for t in hourly_times}
        ),
        ("routing", "Operators on duty vs needed", "A"): Check(
            series={t: {(): float(operators_needed(t))} for t in (at(7, 30), at(8, 30))}
        ),
        ("routing", "Operators on duty vs needed", "B"): Check(
            series={t: {(): float(ON_DUTY)} for t in (at(7, 30), at(8, 30))}
        ),
        ("routing", "Operators on duty vs needed", "C"): Check(
            series={t: {(): float(ON_SHIFT)} for t in (at(7, 30), at(8, 30))}
        ),
    }


# --- playing the afternoon through the control plane -------------------------------------------


@pytest.fixture
async def sessions(fresh_postgres_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(fresh_postgres_url)
    await upgrade(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


class LikeCityHall(OpeningHours):
    """The real calendar, with the city hall's rules (the specification's hours) for this
    test's two sites: no site file of its own to keep in step with the site-file format."""

    def schedule(self, site_id: str) -> SiteSchedule | None:
        return super().schedule("city-hall" if site_id in (EAST, WEST) else site_id)


def state(kiosk: str, *, online: bool, bd_seq: int, when: datetime) -> StateMessage:
    return StateMessage(
        kiosk_id=kiosk,
        sent_at=when,
        seq=1,
        status="online" if online else "offline",
        bd_seq=bd_seq,
        will=not online,
        site_id=KIOSK_SITES[kiosk],
        agent_version="0.1.0",
        os_version="Debian 12",
        peripherals=(Peripheral(name="card_reader", status="ok", simulated=True),)
        if online
        else (),
    )


def call_message(call: Call, call_id: uuid.UUID, action: str, when: datetime) -> CallMessage:
    return CallMessage(
        kiosk_id=call.kiosk,
        sent_at=when,
        seq=1,
        call_id=call_id,
        action=action,  # type: ignore[arg-type]
        terms_version="2026-04" if action == "request" else None,
        privacy_version="2026-04" if action == "request" else None,
    )


async def staff(
    sessions: async_sessionmaker[AsyncSession], name: str, *, training: bool, away: bool
) -> StaffUser:
    signed_in = at(7, 10)
    async with transaction(sessions) as db:
        user = await create_user(
            db=db,
            username=name,
            password="correct horse battery",
            role=Role.OPERATOR,
            display_name=name,
        )
        await routing.sign_in(db=db, user=user, now=signed_in)
        if training:
            await routing.set_training(db=db, user=user, enabled=True, now=signed_in)
        if not away:
            await routing.set_presence(db=db, user=user, status=Presence.AVAILABLE, now=signed_in)
        if not training:
            await add_shift(
                db=db,
                username=name,
                day=DAY,
                start=time(16),
                end=time(18),
                site_id=None,
                created_by="test",
                schedule_of=lambda _site: None,
            )
        db.expunge(user)
    return user


async def play_afternoon(
    sessions: async_sessionmaker[AsyncSession], writer: TelemetryWriter
) -> None:
    hours = LikeCityHall()
    uptime = UptimeRecorder(sessions=sessions, writer=writer, opening_hours=hours)
    recorder = RoutingRecorder(
        sessions=sessions, writer=writer, opening_hours=hours, stale_after=timedelta(seconds=30)
    )
    router = CallRouter(
        sessions=sessions, publisher=CallPublisher(None), hub=RoutingHub(), settings=CallSettings()
    )
    op1 = await staff(sessions, "dash-op1", training=False, away=False)
    op2 = await staff(sessions, "dash-op2", training=False, away=True)
    trainee = await staff(sessions, "dash-trainee", training=True, away=False)
    bd_seq = dict.fromkeys(KIOSK_SITES, 1)
    online = dict.fromkeys(KIOSK_SITES, False)
    call_ids = {id(c): uuid.uuid4() for c in CALLS}
    steps: list[tuple[datetime, int, Callable[[], Awaitable[object]]]] = []

    def step(when: datetime, order: int, action: Callable[[], Awaitable[object]]) -> None:
        steps.append((when, order, action))

    async def kiosk_state(kiosk: str, minute: datetime) -> None:
        when = minute + timedelta(seconds=5)
        should_be_up = up(kiosk, minute)
        if not should_be_up and not online[kiosk]:
            return
        if should_be_up and not online[kiosk]:
            bd_seq[kiosk] += 1  # a new connection
        async with transaction(sessions) as db:
            await fleet.apply_state(
                db=db,
                message=state(kiosk, online=should_be_up, bd_seq=bd_seq[kiosk], when=when),
                received_at=when,
            )
        online[kiosk] = should_be_up

    async def heartbeats(when: datetime) -> None:
        async with transaction(sessions) as db:
            for user in (op1, op2, trainee):
                await routing.heartbeat(db=db, user_id=user.id, now=when)

    async def answer(call: Call) -> None:
        assert call.answered is not None
        user = trainee if call.training else op1
        async with transaction(sessions) as db:
            await routing.accept(
                db=db, user=user, call_id=str(call_ids[id(call)]), now=call.answered
            )

    async def hang_up(call: Call) -> None:
        user = trainee if call.training else op1
        when = call.hung_up or call.answered
        assert when is not None
        async with transaction(sessions) as db:
            await routing.hang_up(db=db, user=user, call_id=str(call_ids[id(call)]), now=when)
            await routing.record_outcome(
                db=db,
                user=user,
                call_id=str(call_ids[id(call)]),
                procedure=Procedure.HEALTH_INSURANCE,
                outcome=Outcome.COMPLETED,
                reason=None,
                now=when,
            )

    async def from_kiosk(call: Call, action: str, when: datetime) -> None:
        await router.on_kiosk_message(call_message(call, call_ids[id(call)], action, when), when)

    for i in range(MINUTES):
        minute = START + timedelta(minutes=i)
        for kiosk in KIOSK_SITES:
            step(minute + timedelta(seconds=5), 0, partial(kiosk_state, kiosk, minute))
        step(minute + timedelta(seconds=45), 0, partial(heartbeats, minute + timedelta(seconds=45)))
        sample = sample_of(minute)
        step(sample, 1, partial(uptime.record, now=sample))
        step(sample, 2, partial(recorder.record, now=sample))
    for call in CALLS:
        step(call.requested, 0, partial(from_kiosk, call, "request", call.requested))
        if call.answered is not None:
            step(call.answered, 0, partial(answer, call))
            # Same order as the answer: a call hung up at once is over before the next one.
            step(call.hung_up or call.answered, 0, partial(hang_up, call))
        if call.cancelled is not None:
            step(call.cancelled, 0, partial(from_kiosk, call, "cancel", call.cancelled))
    # The training kiosk registers (online) before its first minute, then goes down.
    async with transaction(sessions) as db:
        await fleet.apply_state(
            db=db,
            message=state(TRAINING_KIOSK, online=True, bd_seq=1, when=START - timedelta(minutes=5)),
            received_at=START - timedelta(minutes=5),
        )
        await fleet.set_training(db=db, kiosk_id=TRAINING_KIOSK, training=True)
    online[TRAINING_KIOSK] = True
    for _when, _order, action in sorted(steps, key=lambda s: (s[0], s[1])):
        await action()
    async with sessions() as db:  # the router saw the training flag and the outcomes
        calls = {c.call_id: c for c in await db.scalars(select(CallRecord))}
    assert {str(call_ids[id(c)]): c.training for c in CALLS} == {
        cid: c.training for cid, c in calls.items()
    }


# --- the test -----------------------------------------------------------------------------------


def substitute(expr: str, board: dict[str, Any]) -> str:
    """What Grafana sends: the variables replaced (the sites of this test, the target's
    default, the range of the afternoon)."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    if "target" in variables:
        expr = expr.replace("$target", str(variables["target"]["current"]["value"]))
    return expr.replace("$site", SITE_FILTER).replace("$__range", RANGE_90M)


def as_values(result: list[dict[str, Any]]) -> Values:
    return {
        tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
            r["value"][1]
        )
        for r in result
    }


def assert_values(got: Values, expected: Values, what: str) -> None:
    assert set(got) == set(expected), f"{what}: series {sorted(got)} != {sorted(expected)}"
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), f"{what} {key}: {got[key]} != {value}"


async def test_every_panel_of_the_uptime_and_routing_dashboards(
    sessions: async_sessionmaker[AsyncSession],
    victoria_metrics: VictoriaMetrics,
) -> None:
    writer = TelemetryWriter(
        TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.1)
    )
    writer.start()
    await play_afternoon(sessions, writer)
    await writer.stop()
    assert writer.failures == 0
    # Nothing of the training kiosk reached the store.
    assert not victoria_metrics.export(f'{{kiosk_id="{TRAINING_KIOSK}"}}')

    # The figures the brief names, straight from the afternoon.
    checks = expected_checks()
    kiosk_uptime = checks[("uptime", "Uptime by kiosk", "A")].values
    assert kiosk_uptime is not None
    assert kiosk_uptime[by_kiosk("dash-e2")] == 0.75  # up 45 of its 60 open minutes
    assert kiosk_uptime[by_kiosk("dash-e1")] == 1.0  # down only after closing
    assert checks[("uptime", "Uptime by site", "A")].values == {
        labels(site_id=EAST): 0.875,
        labels(site_id=WEST): 1.0,
    }

    checked: set[tuple[str, str, str]] = set()
    for name in ("uptime", "routing"):
        board = dashboard_json(name)
        for panel in board["panels"]:
            assert panel.get("targets"), f"{name} / {panel['title']}: a panel without a query"
            for target in panel["targets"]:
                key = (name, panel["title"], target["refId"])
                assert key in checks, f"{key}: a query this test does not check"
                check = checks[key]
                expr = substitute(target["expr"], board)
                assert "$" not in expr, expr
                if target.get("instant"):
                    assert check.values is not None, key
                    got = as_values(instant(victoria_metrics, expr, check.when))
                    assert_values(got, check.values, f"{key} at {check.when:%H:%M}")
                else:
                    assert check.series is not None, key
                    frames = query_range(victoria_metrics, expr, START, END)
                    for when, expected in check.series.items():
                        assert_values(frames.get(when, {}), expected, f"{key} at {when:%H:%M}")
                checked.add(key)
    assert checked == set(checks), f"checks of no panel: {set(checks) - checked}"

    # The site variable lists the sites that have data.
    for name, metric in (("uptime", "kiosk_uptime_open"), ("routing", "routing_open")):
        query = next(v for v in dashboard_json(name)["templating"]["list"] if v["name"] == "site")
        assert query["query"] == f"label_values({metric}, site_id)"
        assert {EAST, WEST} <= set(label_values(victoria_metrics, "site_id", metric))


def fired(vm: VictoriaMetrics, uid: str, when: datetime) -> set[str]:
    expr = next(rule[2] for rule in RULES if rule[0] == uid)
    return {
        r["metric"].get("kiosk_id") or r["metric"].get("site_id") or "service"
        for r in instant(vm, expr, when)
        if r["metric"].get("site_id", "dash-").startswith("dash-")
    }


async def test_uptime_and_routing_alert_rules_fire_only_on_trouble(
    sessions: async_sessionmaker[AsyncSession],
    victoria_metrics: VictoriaMetrics,
) -> None:
    writer = TelemetryWriter(
        TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.1)
    )
    writer.start()
    await play_afternoon(sessions, writer)
    await writer.stop()
    victoria_metrics.export('{__name__="routing_waiting"}')  # flushes
    # dash-e2 down while open; nothing once the sites have closed, though kiosks are down.
    assert fired(victoria_metrics, "madoguchi-kiosk-down-open", at(7, 50)) == {"dash-e2"}
    assert fired(victoria_metrics, "madoguchi-kiosk-down-open", at(8, 40)) == set()
    # dash-east's day: 87.5 % against 99 %; dash-west was up whenever open.
    assert fired(victoria_metrics, "madoguchi-uptime-target", END) == {EAST}
    # The older resident at dash-east has waited 290 s at 08:06 and 350 s at 08:07.
    assert fired(victoria_metrics, "madoguchi-queue-wait", at(8, 6)) == set()
    assert fired(victoria_metrics, "madoguchi-queue-wait", at(8, 7)) == {EAST}
    # Three windows open and one operator on duty; after closing none needed.
    assert fired(victoria_metrics, "madoguchi-operators-short", at(8, 7)) == {"service"}
    shortfall = instant(
        victoria_metrics,
        next(rule[2] for rule in RULES if rule[0] == "madoguchi-operators-short"),
        at(8, 7),
    )
    assert [float(r["value"][1]) for r in shortfall] == [2.0]
    assert fired(victoria_metrics, "madoguchi-operators-short", at(8, 30)) == set()


def test_the_expected_values_are_those_of_the_afternoon() -> None:
    """The hand-made figures behind the checks, so a slip in the helpers shows here."""
    checks = expected_checks()
    by_site_ = checks[("routing", "Time to answer by site", "A")].values
    assert by_site_ == {labels(site_id=EAST): 60.0, labels(site_id=WEST): 60.0}
    assert checks[("routing", "Time to answer by site", "B")].values == {
        labels(site_id=EAST): 100.0,
        labels(site_id=WEST): 84.0,
    }
    assert checks[("routing", "Time to answer by site", "D")].values == {
        labels(site_id=EAST): 4.0,
        labels(site_id=WEST): 1.0,
    }
    assert checks[("routing", "Longest wait now", "A")].values == {(): 350.0}
    assert checks[("uptime", "Kiosk-minutes lost during opening hours", "A")].values == {(): 15}
    assert checks[("routing", "Waiting now", "A")].values == {(): 2.0}


async def test_the_control_plane_writes_the_routing_minutes(
    victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    """The app starts the routing recorder next to the router when the store is configured:
    a kiosk registered at a site of its own shows up in the first minute it writes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    site = f"dash-app-{uuid.uuid4().hex[:8]}"
    engine = make_engine(url)
    await upgrade(engine)
    now = datetime.now(UTC)
    async with transaction(make_sessionmaker(engine)) as db:
        message = state("dash-e1", online=True, bd_seq=1, when=now).model_copy(
            update={"site_id": site}
        )
        await fleet.apply_state(db=db, message=message, received_at=now)
    await engine.dispose()
    settings = CloudSettings(
        database_url=url,
        mqtt=BrokerSettings(enabled=False),
        timeseries=TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.1),
    )
    app = create_app(settings)
    selector = f'{{__name__="routing_operators_needed",site_id="{site}"}}'
    async with app.router.lifespan_context(app):
        written: list[dict[str, object]] = []
        for _ in range(300):  # bounded: the first minute is written as the app starts
            written = victoria_metrics.export(selector)
            if written:
                break
            await asyncio.sleep(0.1)
    assert written, f"no routing minute for {site} written by the running control plane"
    # A site without a schedule counts as open; its one kiosk is one window to staff.
    assert written[0]["values"] == [1]
