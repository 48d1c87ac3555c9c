"""The router: runs in every replica, passes over the queue when woken or every tick.

A pass releases dead consoles, returns unanswered rings to the queue, rings idle operators,
tells waiting kiosks their place and expected wait, calls the support staff to crowded
sites, and keeps the staffing-gap record. Kiosk call messages (from the MQTT consumer)
enter here too.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.calendar.lookup import OpeningHours
from cloud.fleet.models import Kiosk
from cloud.routing import service
from cloud.routing.hub import RoutingHub
from cloud.routing.publisher import CallPublisher
from cloud.settings import CallSettings
from cloud.sites.service import takes_calls
from protocol.aio import wait_event
from protocol.v1 import CallMessage

log = structlog.get_logger("cloud.routing")

HANDLE_TIME_REFRESH_S = 30.0  # the expected wait uses the average of recent calls
SITE_NOT_OPEN = "call:site_not_open"


class CallRouter:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        publisher: CallPublisher,
        hub: RoutingHub,
        settings: CallSettings,
        opening_hours: OpeningHours | None = None,
    ) -> None:
        self._sessions = sessions
        self.publisher = publisher
        self.hub = hub
        self.settings = settings
        self._opening_hours = opening_hours
        self._wake = asyncio.Event()
        self._last_staffing_check = 0.0
        self._last_sweep = 0.0
        self._handle_time: tuple[float, float] = (0.0, 0.0)  # (measured at, seconds)
        self.passes = 0
        self.rings_total = 0
        # Called after each pass's commit with every ring it made (benchmarks, metrics).
        self.on_ring: Callable[[service.Ring], None] | None = None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.settings.presence_stale_s)

    def kick(self) -> None:
        self._wake.set()

    # --- kiosk messages ------------------------------------------------------------------------

    async def on_kiosk_message(self, message: CallMessage, received_at: datetime) -> str:
        """Apply one `call/up` message in its own transaction, then wake routing and consoles.
        Database errors propagate (the consumer retries while the database is away)."""
        async with self._sessions() as db, db.begin():
            outcome = await self._apply_kiosk_message(db, message, received_at)
        if outcome == SITE_NOT_OPEN:
            # Nobody is rung for a registered site that is not open (a pop-up before its
            # connection test, or closed): the kiosk hears at once that no operator comes.
            await self.publisher.send(
                message.kiosk_id, str(message.call_id), "ended", reason="no_operator"
            )
            return outcome
        self.kick()
        self.hub.notify()
        return outcome

    async def _apply_kiosk_message(
        self, db: AsyncSession, message: CallMessage, now: datetime
    ) -> str:
        if message.action == "request":
            kiosk = await db.get(Kiosk, message.kiosk_id)
            site_id = kiosk.site_id if kiosk is not None else "unknown"
            if not await takes_calls(db=db, site_id=site_id):
                log.info("call_refused_site_not_open", kiosk_id=message.kiosk_id, site_id=site_id)
                return SITE_NOT_OPEN
            created, ended = await service.request_call(
                db=db,
                message=message,
                site_id=site_id,
                now=now,
                # Set from the registry, never from the kiosk's own word.
                training=kiosk is not None and kiosk.training,
            )
            for end in ended:
                log.info("call_ended", call_id=end.call_id, reason=end.reason)
            log.info("call_requested", call_id=str(message.call_id), kiosk_id=message.kiosk_id)
            return "call:queued" if created else "call:duplicate"
        if message.action in ("cancel", "hangup"):
            reason = "abandoned" if message.action == "cancel" else "resident_hung_up"
            ended_call = await service.end_kiosk_call(
                db=db, message=message, reason=reason, now=now
            )
            if ended_call is None:
                return "call:ignored"
            log.info("call_ended", call_id=ended_call.call_id, reason=reason)
            return "call:ended"
        if message.action == "offer":
            return (
                "call:offer"
                if await service.store_offer(db=db, message=message)
                else ("call:ignored")
            )
        return "call:ignored"

    async def on_kiosk_offline(self, kiosk_id: str, received_at: datetime) -> None:
        async with self._sessions() as db, db.begin():
            ended = await service.end_calls_of_kiosk(
                db=db, kiosk_id=kiosk_id, reason="kiosk_offline", now=received_at
            )
        for end in ended:
            log.info("call_ended", call_id=end.call_id, reason=end.reason)
        if ended:
            self.kick()
            self.hub.notify()

    # --- the pass ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await wait_event(self._wake, self.settings.tick_s)
            self._wake.clear()
            try:
                await self.route_once()
            except Exception:
                # A database outage must not kill routing: the next pass tries again.
                log.exception("routing_pass_failed")

    async def route_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        # Dead consoles and unanswered rings are swept once per tick, not on every wake-up:
        # a burst of requests then costs one assignment pass each, nothing more.
        sweep = time.monotonic() - self._last_sweep >= self.settings.tick_s
        ended: list[service.Ended] = []
        missed: list[service.Ring] = []
        async with self._sessions() as db, db.begin():
            if sweep:
                self._last_sweep = time.monotonic()
                ended = await service.release_stale_operators(
                    db=db, now=now, stale_after=self.stale_after
                )
                missed = await service.expire_rings(
                    db=db, now=now, ring_timeout=timedelta(seconds=self.settings.ring_timeout_s)
                )
            rings = await service.assign(db=db, now=now, stale_after=self.stale_after)
        self.passes += 1
        for end in ended:
            await self.publisher.send(end.kiosk_id, end.call_id, "ended", reason=end.reason)
        for ring in missed:
            log.info("ring_missed", call_id=ring.call_id, operator_id=ring.operator_id)
        for ring in rings:
            log.info("ringing", call_id=ring.call_id, operator_id=ring.operator_id)
            self.rings_total += 1
            if self.on_ring is not None:
                self.on_ring(ring)
        if ended or missed or rings:
            self.hub.notify()
        await self._announce(now)
        if time.monotonic() - self._last_staffing_check >= self.settings.staffing_check_s:
            self._last_staffing_check = time.monotonic()
            await self._check_staffing(now)

    async def _announce(self, now: datetime) -> None:
        """Tell each waiting kiosk its place when it changed, and call the support staff to a
        site whose queue reached the threshold. Training calls have a queue of their own."""
        await self._announce_queue(now, training=False)
        await self._announce_queue(now, training=True)

    async def _announce_queue(self, now: datetime, *, training: bool) -> None:
        async with self._sessions() as db, db.begin():
            waiting = await service.waiting_calls(db=db, training=training)
            if not waiting:
                return
            measured_at, handle_s = self._handle_time
            if time.monotonic() - measured_at > HANDLE_TIME_REFRESH_S:
                handle_s = await service.average_handle_time_s(db=db)
                self._handle_time = (time.monotonic(), handle_s)
            staffed = await service.staffed_operators(
                db=db, now=now, stale_after=self.stale_after, training=training
            )
            announce = [
                w
                for w in waiting
                if w.state == "queued"
                and w.announced_position != w.position
                and await service.claim_announcement(db=db, call_id=w.call_id, position=w.position)
            ]
            per_site = Counter(w.site_id for w in waiting)
            crowded = [
                w
                for w in waiting
                if not training  # the support staff are never called to a practice call
                and per_site[w.site_id] >= self.settings.support_queue_threshold
                and not w.support_requested
                and await service.claim_support(db=db, call_id=w.call_id)
            ]
        for w in announce:
            # Calls ahead, spread over the operators who will take them.
            wait_s = math.ceil((w.position - 1) * handle_s / max(staffed, 1))
            await self.publisher.send(
                w.kiosk_id,
                w.call_id,
                "queued",
                queue_position=w.position,
                estimated_wait_s=wait_s if staffed else None,
            )
        for w in crowded:
            log.warning("support_called", site_id=w.site_id, kiosk_id=w.kiosk_id)
            await self.publisher.send(w.kiosk_id, w.call_id, "support_coming")
        if crowded:
            self.hub.notify()

    async def _check_staffing(self, now: datetime) -> None:
        async with self._sessions() as db, db.begin():
            # Training kiosks do not make a site "staffed or not" (nor the operators in
            # training mode, who take no real call: see staffed_operators).
            sites = set(
                await db.scalars(select(Kiosk.site_id).where(Kiosk.training.is_(False)).distinct())
            )
            staffed = await service.staffed_operators(db=db, now=now, stale_after=self.stale_after)
            if self._opening_hours is not None:
                await self._opening_hours.refresh(db=db, now=now)
            for site_id in sorted(sites):
                open_now = self._opening_hours(site_id, now) if self._opening_hours else True
                await service.track_staffing_gap(
                    db=db, site_id=site_id, uncovered=open_now and staffed == 0, now=now
                )
