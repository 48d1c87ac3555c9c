"""Uptime minutes: written every minute, 0 when not serviceable, never missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.calendar.lookup import OpeningHours
from cloud.db.engine import transaction
from cloud.fleet import service
from cloud.fleet.timeseries import TelemetryWriter
from cloud.fleet.uptime import UptimeRecorder
from cloud.settings import TimeSeriesSettings
from protocol.v1 import StateMessage
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import state
from tests.servers import VictoriaMetrics

# A past Wednesday, 18:00 in Tokyo: the city hall is open (the store keeps the past only).
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


async def apply(cloud: Cloud, message: StateMessage) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        await service.apply_state(db=db, message=message, received_at=NOW)


async def test_minutes_are_written_and_gaps_count_as_down(
    sqlite_cloud: Cloud, victoria_metrics: VictoriaMetrics
) -> None:
    await apply(sqlite_cloud, state("online", 1, kiosk="up-k1"))
    await apply(sqlite_cloud, state("online", 1, kiosk="up-k2"))
    await apply(sqlite_cloud, state("offline", 1, will=True, kiosk="up-k2"))
    writer = TelemetryWriter(
        TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.1)
    )
    writer.start()
    recorder = UptimeRecorder(
        sessions=sqlite_cloud.app.state.sessions, writer=writer, opening_hours=OpeningHours()
    )
    assert await recorder.record(now=NOW + timedelta(seconds=20)) == 2
    # The control plane was away for two minutes: those are written too, as down.
    assert await recorder.record(now=NOW + timedelta(minutes=3, seconds=20)) == 6
    await writer.stop()
    series = {
        (s["metric"]["__name__"], s["metric"]["kiosk_id"]): dict(
            zip(s["timestamps"], s["values"], strict=True)
        )  # type: ignore[arg-type]
        for s in victoria_metrics.export('{__name__=~"kiosk_uptime_.+",kiosk_id=~"up-k.+"}')
    }
    base = int(NOW.timestamp() * 1000)
    minute = 60_000
    assert series[("kiosk_uptime_up", "up-k1")] == {
        base: 1,
        base + minute: 0,
        base + 2 * minute: 0,
        base + 3 * minute: 0,
    }
    assert set(series[("kiosk_uptime_up", "up-k2")].values()) == {0}
    assert set(series[("kiosk_uptime_open", "up-k1")].values()) == {1}
