"""Telemetry into a real VictoriaMetrics through influxdb-client's v2 write API, read back
through VictoriaMetrics' own export API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from cloud.fleet.timeseries import TelemetryWriter
from cloud.settings import TimeSeriesSettings
from protocol.v1 import HostHealth, NetworkHealth, Peripheral, TelemetryMessage
from tests.servers import VictoriaMetrics


def reading(kiosk: str, seq: int, at: datetime) -> TelemetryMessage:
    return TelemetryMessage(
        kiosk_id=kiosk,
        sent_at=at,
        seq=seq,
        interval_s=1.0,
        host=HostHealth(
            cpu_percent=float(seq % 100),
            memory_percent=30.0,
            memory_used_bytes=10,
            disk_percent=40.0,
            disk_free_bytes=20,
            uptime_s=100.0,
        ),
        peripherals=(Peripheral(name="card_reader", status="error", simulated=True),),
        network=NetworkHealth(broker_rtt_ms=12.5, link="wifi", clock_synchronized=True),
    )


def samples(vm: VictoriaMetrics, kiosk: str, field: str) -> dict[int, float]:
    series = vm.export(f'{{__name__="kiosk_{field}",kiosk_id="{kiosk}"}}')
    result: dict[int, float] = {}
    for entry in series:
        for timestamp, value in zip(entry["timestamps"], entry["values"], strict=True):  # type: ignore[arg-type]
            assert timestamp not in result, "a reading was stored twice"
            result[timestamp] = value
    return result


async def test_every_reading_arrives_once_at_its_own_time(
    victoria_metrics: VictoriaMetrics,
) -> None:
    writer = TelemetryWriter(
        TimeSeriesSettings(
            enabled=True, url=victoria_metrics.url, flush_interval_s=0.1, batch_size=50
        )
    )
    writer.start()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    messages = [reading("ts-k1", 1000 + i, start + timedelta(seconds=i)) for i in range(120)]
    for message in messages + messages[:30]:  # the first 30 delivered twice
        await writer.write(message, site_id="city-hall")
    await writer.stop()
    seqs = samples(victoria_metrics, "ts-k1", "seq")
    assert sorted(seqs.values()) == [float(m.seq) for m in messages]
    expected_times = {int(m.sent_at.timestamp() * 1000) for m in messages}
    assert set(seqs) == expected_times
    card = samples(victoria_metrics, "ts-k1", "peripheral_card_reader_ok")
    assert set(card.values()) == {0.0}
    rtt = samples(victoria_metrics, "ts-k1", "broker_rtt_ms")
    assert set(rtt.values()) == {12.5}


async def test_store_down_for_a_while_loses_nothing(victoria_metrics: VictoriaMetrics) -> None:
    writer = TelemetryWriter(
        TimeSeriesSettings(
            enabled=True, url=victoria_metrics.url, flush_interval_s=0.1, batch_size=20, timeout_s=2
        )
    )
    writer.start()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    victoria_metrics.stop()
    try:
        for i in range(60):
            await writer.write(
                reading("ts-k2", i + 1, start + timedelta(seconds=i)), site_id="city-hall"
            )
        async with asyncio.timeout(20):
            while writer.failures == 0:
                await asyncio.sleep(0.05)
        assert writer.written == 0
    finally:
        victoria_metrics.start()
    await writer.stop(drain_timeout_s=30)
    assert writer.pending == 0
    seqs = samples(victoria_metrics, "ts-k2", "seq")
    assert sorted(seqs.values()) == [float(i + 1) for i in range(60)]
