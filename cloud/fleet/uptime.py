"""Per kiosk and minute, the control plane writes `up` (0/1) and `open` (0/1 from the site's
calendar) into the time series, so uptime during opening hours is Σ(up·open)/Σ(open).

`up` is written as 0 when the kiosk is offline or silent — a missing heartbeat is not uptime
— and the writer covers every minute since it last wrote (up to a day), so minutes in which
the control plane itself was down are written as not serviceable rather than left out.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alerts.evaluator import OpeningHoursSource
from cloud.fleet.models import Kiosk
from cloud.fleet.service import list_kiosks
from cloud.fleet.timeseries import TelemetryWriter
from protocol.v1 import metrics

log = structlog.get_logger("cloud.uptime")

MINUTE = timedelta(minutes=1)
MAX_CATCH_UP = timedelta(days=1)


def serviceable(kiosk: Kiosk, *, at: datetime, silence: timedelta) -> bool:
    """Online, heard from recently, and no critical peripheral failing."""
    critical_ok = all(
        p.get("status") == "ok" for p in kiosk.peripherals if p.get("name") == "card_reader"
    )
    return kiosk.status == "online" and at - kiosk.last_seen_at <= silence and critical_ok


def uptime_point(kiosk: Kiosk, *, minute: datetime, up: bool, open_now: bool) -> Point:
    point: Point = (
        Point(metrics.UPTIME)
        .tag("kiosk_id", kiosk.kiosk_id)
        .tag("site_id", kiosk.site_id)
        .field(metrics.UP, int(up))
        .field(metrics.OPEN, int(open_now))
        .time(minute, WritePrecision.S)
    )
    return point


class UptimeRecorder:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        writer: TelemetryWriter,
        opening_hours: OpeningHoursSource,
        silence: timedelta = timedelta(seconds=90),
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._hours = opening_hours
        self._silence = silence
        self._last_minute: datetime | None = None

    async def record(self, *, now: datetime | None = None) -> int:
        """Write every minute not yet written up to the current one; returns points written."""
        now = now or datetime.now(UTC)
        current = now.replace(second=0, microsecond=0)
        start = self._last_minute + MINUTE if self._last_minute else current
        start = max(start, current - MAX_CATCH_UP)
        async with self._sessions() as db:
            # Training kiosks are no windows of the city: no uptime is recorded for them.
            kiosks = [k for k in await list_kiosks(db=db) if not k.training]
            await self._hours.refresh(db=db, now=now)
        written = 0
        minute = start
        while minute <= current:
            for kiosk in kiosks:
                # Only the current minute is judged live; minutes caught up after an outage
                # of the control plane are written as not serviceable.
                up = minute == current and serviceable(kiosk, at=now, silence=self._silence)
                open_now = self._hours(kiosk.site_id, minute)
                await self._writer.write_point(
                    uptime_point(kiosk, minute=minute, up=up, open_now=open_now), minute
                )
                written += 1
            minute += MINUTE
        self._last_minute = current
        return written

    async def run(self) -> None:
        while True:
            try:
                await self.record()
            except Exception:
                log.exception("uptime_record_failed")
            now = datetime.now(UTC)
            await asyncio.sleep(60 - now.second - now.microsecond / 1e6 + 0.5)
