"""The queue and the staffing in the time series, for the routing dashboard and its alerts.

Once a minute (at the minute's own time, like the uptime minutes) the control plane writes:

* per site (`routing`, tag `site_id`): `waiting` (calls queued or ringing), `oldest_wait_s`
  (how long the longest-waiting one has waited, 0 when none), `in_call` (connected calls),
  `open` (the calendar) and `operators_needed` (the site's windows while it is open, else 0:
  the coverage rule of `cloud/shifts/coverage.py`, so Σ over sites is the operators needed);
* for the whole service (`routing_operators`, no tag: operators serve every site):
  `on_duty` (signed in and not away), `available`, `busy` (ringing, in a call or wrapping
  up) and `on_shift` (on the roster now);
* per call whose time in the queue ended (`routing_call`, tags `site_id` and `outcome`
  answered|abandoned): `wait_s`, at the moment it was answered or given up. A call that ended
  without an operator, whatever the reason, counts as abandoned. Calls are written for the
  minutes since the last write (up to a day after a restart); a call written twice (a restart,
  two replicas) is the same sample, which the store keeps once when it deduplicates
  (VictoriaMetrics with `-dedup.minScrapeInterval=1ms`, as the tests run it).

Training kiosks, training calls and operators in 研修モード count nowhere. Nothing here is
personal data: sites, counts and seconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.calendar.lookup import OpeningHours
from cloud.fleet.timeseries import TelemetryWriter
from cloud.routing.models import CallRecord, CallState, OperatorPresence, Presence
from cloud.shifts.service import ROSTER_ZONE, roster, windows_per_site

log = structlog.get_logger("cloud.routing.metrics")

# Measurements and fields: VictoriaMetrics names the series `{measurement}_{field}`.
SITE = "routing"
WAITING = "waiting"
OLDEST_WAIT_S = "oldest_wait_s"
IN_CALL = "in_call"
OPEN = "open"
OPERATORS_NEEDED = "operators_needed"
OPERATORS = "routing_operators"
ON_DUTY = "on_duty"
AVAILABLE = "available"
BUSY = "busy"
ON_SHIFT = "on_shift"
CALL = "routing_call"
WAIT_S = "wait_s"
ANSWERED = "answered"
ABANDONED = "abandoned"

MINUTE = timedelta(minutes=1)
MILLISECOND = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CATCH_UP = timedelta(days=1)
BUSY_STATES = (Presence.RINGING, Presence.IN_CALL, Presence.WRAP_UP)


def series(measurement: str, field: str) -> str:
    """The Prometheus-style name of a field, as the dashboards query it."""
    return f"{measurement}_{field}"


@dataclass(frozen=True, slots=True)
class SiteQueue:
    site_id: str
    waiting: int
    oldest_wait_s: float
    in_call: int
    open: bool
    operators_needed: int


@dataclass(frozen=True, slots=True)
class Operators:
    on_duty: int
    available: int
    busy: int
    on_shift: int


@dataclass(frozen=True, slots=True)
class QueueExit:
    """A call's time in the queue ended: answered, or ended without an operator."""

    site_id: str
    outcome: str
    at: datetime
    wait_s: float


def _point(
    measurement: str,
    *,
    tags: dict[str, str],
    fields: Mapping[str, float],
    at: datetime,
    precision: str,
) -> Point:
    # WritePrecision's members are plain strings, though `from_dict` is annotated with the class.
    point: Point = Point.from_dict(
        {"measurement": measurement, "tags": tags, "fields": fields, "time": at},
        write_precision=precision,  # type: ignore[arg-type]
    )
    return point


def site_point(queue: SiteQueue, minute: datetime) -> Point:
    fields = {
        WAITING: queue.waiting,
        OLDEST_WAIT_S: float(queue.oldest_wait_s),
        IN_CALL: queue.in_call,
        OPEN: int(queue.open),
        OPERATORS_NEEDED: queue.operators_needed,
    }
    tags = {"site_id": queue.site_id}
    return _point(SITE, tags=tags, fields=fields, at=minute, precision=WritePrecision.S)


def operators_point(operators: Operators, minute: datetime) -> Point:
    fields = {
        ON_DUTY: operators.on_duty,
        AVAILABLE: operators.available,
        BUSY: operators.busy,
        ON_SHIFT: operators.on_shift,
    }
    return _point(OPERATORS, tags={}, fields=fields, at=minute, precision=WritePrecision.S)


def call_point(exit_: QueueExit) -> Point:
    tags = {"site_id": exit_.site_id, "outcome": exit_.outcome}
    fields = {WAIT_S: float(exit_.wait_s)}
    return _point(CALL, tags=tags, fields=fields, at=exit_.at, precision=WritePrecision.MS)


async def site_queues(*, db: AsyncSession, now: datetime, is_open: OpeningHours) -> list[SiteQueue]:
    """Every site with a window or a call: its real queue now."""
    active = await db.execute(
        select(CallRecord.site_id, CallRecord.state, CallRecord.requested_at).where(
            CallRecord.state.in_((CallState.QUEUED, CallState.RINGING, CallState.CONNECTED)),
            CallRecord.training.is_(False),
        )
    )
    waiting: Counter[str] = Counter()
    in_call: Counter[str] = Counter()
    oldest: dict[str, datetime] = {}
    for site_id, state, requested_at in active:
        if state == CallState.CONNECTED:
            in_call[site_id] += 1
            continue
        waiting[site_id] += 1
        oldest[site_id] = min(oldest.get(site_id, requested_at), requested_at)
    windows = await windows_per_site(db=db)
    queues = []
    for site_id in sorted(set(windows) | set(waiting) | set(in_call)):
        open_now = is_open(site_id, now)
        queues.append(
            SiteQueue(
                site_id=site_id,
                waiting=waiting[site_id],
                oldest_wait_s=(now - oldest[site_id]).total_seconds() if site_id in oldest else 0,
                in_call=in_call[site_id],
                open=open_now,
                # Only sites with windows of their own need operators (coverage rule).
                operators_needed=windows[site_id] if open_now else 0,
            )
        )
    return queues


async def operators_now(*, db: AsyncSession, now: datetime, stale_after: timedelta) -> Operators:
    """Operators out of 研修モード with a live console, and those on the roster now."""
    rows = await db.execute(
        select(OperatorPresence.status, func.count())
        .where(
            OperatorPresence.training.is_(False),
            OperatorPresence.heartbeat_at >= now - stale_after,
        )
        .group_by(OperatorPresence.status)
    )
    by_status = {status: count for status, count in rows}
    available = by_status.get(Presence.AVAILABLE, 0)
    busy = sum(by_status.get(status, 0) for status in BUSY_STATES)
    local = now.astimezone(ROSTER_ZONE)
    today = await roster(db=db, start=local.date(), end=local.date(), duty="operator")
    on_shift = sum(1 for e in today if e.start <= local.time() < e.end)
    return Operators(on_duty=available + busy, available=available, busy=busy, on_shift=on_shift)


async def queue_exits(*, db: AsyncSession, start: datetime, end: datetime) -> list[QueueExit]:
    """Real calls answered, or ended unanswered, in [start, end)."""
    calls = await db.scalars(
        select(CallRecord).where(
            CallRecord.training.is_(False),
            or_(
                (CallRecord.connected_at >= start) & (CallRecord.connected_at < end),
                CallRecord.connected_at.is_(None)
                & (CallRecord.ended_at >= start)
                & (CallRecord.ended_at < end),
            ),
        )
    )
    exits = []
    taken: set[tuple[str, str, int]] = set()
    for call in sorted(calls, key=lambda c: (c.connected_at or c.ended_at, c.call_id)):
        if call.connected_at is not None:
            at, outcome = call.connected_at, ANSWERED
        else:
            assert call.ended_at is not None
            at, outcome = call.ended_at, ABANDONED
        wait_s = (at - call.requested_at).total_seconds()
        # One sample per series and millisecond (the store keeps one): two residents of a site
        # giving up at the same instant would count once. The later call (by id) moves on by a
        # millisecond, the same way whichever replica writes it.
        while (call.site_id, outcome, stamp := (at - EPOCH) // MILLISECOND) in taken:
            at += MILLISECOND
        taken.add((call.site_id, outcome, stamp))
        exits.append(QueueExit(call.site_id, outcome, at, wait_s))
    return exits


class RoutingRecorder:
    """Writes the minute's queue and staffing, and the calls that left the queue since the
    last write. Runs in its own task: a slow store never holds up routing."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        writer: TelemetryWriter,
        opening_hours: OpeningHours,
        stale_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._hours = opening_hours
        self._stale_after = stale_after
        self._last_minute: datetime | None = None

    async def record(self, *, now: datetime | None = None) -> int:
        """Write this minute's gauges and the calls that left the queue; returns points."""
        now = now or datetime.now(UTC)
        current = now.replace(second=0, microsecond=0)
        since = self._last_minute or current - MAX_CATCH_UP
        async with self._sessions() as db:
            await self._hours.refresh(db=db, now=now)
            queues = await site_queues(db=db, now=now, is_open=self._hours)
            operators = await operators_now(db=db, now=now, stale_after=self._stale_after)
            exits = await queue_exits(db=db, start=since, end=current)
        for queue in queues:
            await self._writer.write_point(site_point(queue, current), current)
        await self._writer.write_point(operators_point(operators, current), current)
        for exit_ in exits:
            await self._writer.write_point(call_point(exit_), exit_.at)
        self._last_minute = current
        return len(queues) + 1 + len(exits)

    async def run(self) -> None:
        while True:
            try:
                await self.record()
            except Exception:
                log.exception("routing_metrics_failed")
            now = datetime.now(UTC)
            await asyncio.sleep(60 - now.second - now.microsecond / 1e6 + 0.5)
