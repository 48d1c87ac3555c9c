"""Telemetry into the time-series store through influxdb-client's v2 write API.

VictoriaMetrics by default (it accepts `/api/v2/write`, names series
`{measurement}_{field}`), InfluxDB 2.x/3.x by configuration. Points carry the reading's own
time (`sent_at`), so a replayed backlog lands where it belongs and a duplicate delivery
writes the same sample again (deduplicated by the store).

Writes are batched (size or interval), retried with backoff while the store is down, and
bounded: when the buffer is full, `write` waits — back-pressure on the MQTT consumer
instead of dropping readings.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from cloud.settings import TimeSeriesSettings
from protocol.backoff import Backoff
from protocol.v1 import TelemetryMessage, metrics

log = structlog.get_logger("cloud.timeseries")

MEASUREMENT = metrics.KIOSK


def telemetry_point(message: TelemetryMessage, *, site_id: str) -> Point:
    """One reading as a point: host health fields, peripherals OK as 1/0 (states as numbers:
    VictoriaMetrics stores strings as 0)."""
    point = (
        Point(MEASUREMENT)
        .tag("kiosk_id", message.kiosk_id)
        .tag("site_id", site_id)
        .time(message.sent_at, WritePrecision.MS)
        .field("seq", message.seq)
    )
    for name, value in message.host.model_dump(exclude_none=True).items():
        point = point.field(name, float(value))
    point = point.field("outbox_depth", message.outbox_depth)
    if message.network is not None:
        if message.network.broker_rtt_ms is not None:
            point = point.field("broker_rtt_ms", message.network.broker_rtt_ms)
        if message.network.clock_synchronized is not None:
            point = point.field("clock_synchronized", int(message.network.clock_synchronized))
    if message.call is not None:
        for name, value in message.call.model_dump(exclude_none=True).items():
            point = point.field(f"call_{name}", float(value))
    for peripheral in message.peripherals:
        point = point.field(
            metrics.peripheral_ok_field(peripheral.name), int(peripheral.status == "ok")
        )
    return point  # type: ignore[no-any-return]


class TelemetryWriter:
    def __init__(self, settings: TimeSeriesSettings) -> None:
        self._settings = settings
        self._queue: asyncio.Queue[tuple[Point, datetime]] = asyncio.Queue(
            maxsize=settings.buffer_limit
        )
        # Seconds from a reading's own time to its write, when someone measures (bench).
        self.lags: list[float] | None = None
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.failures = 0
        self.last_written_at: datetime | None = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def write(self, message: TelemetryMessage, *, site_id: str) -> None:
        await self.write_point(telemetry_point(message, site_id=site_id), message.sent_at)

    async def write_point(self, point: Point, at: datetime) -> None:
        """Any point (the uptime minutes use it); waits when the buffer is full."""
        await self._queue.put((point, at))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="timeseries-writer")

    async def stop(self, *, drain_timeout_s: float = 10.0) -> None:
        """Flush what is buffered (bounded in time), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._queue.qsize():
            log.error("timeseries_unflushed_on_stop", points=self._queue.qsize())

    async def _next_batch(self) -> list[tuple[Point, datetime]]:
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.flush_interval_s
        while len(batch) < self._settings.batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        settings = self._settings
        backoff = Backoff(minimum=0.2, maximum=10.0)
        async with InfluxDBClientAsync(
            url=settings.url,
            token=settings.token,
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
        ) as client:
            write_api = client.write_api()
            while True:
                batch = await self._next_batch()
                while True:  # the batch is kept until the store took it
                    try:
                        await write_api.write(
                            bucket=settings.bucket,
                            org=settings.org,
                            record=[point for point, _ in batch],
                        )
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        self.failures += 1
                        delay = backoff.next_delay()
                        log.warning(
                            "timeseries_write_failed",
                            error=type(exc).__name__,
                            points=len(batch),
                            retry_in_s=round(delay, 2),
                        )
                        await asyncio.sleep(delay)
                        continue
                    backoff.reset()
                    self.written += len(batch)
                    if self.lags is not None:
                        now = datetime.now(UTC)
                        self.lags.extend((now - sent_at).total_seconds() for _, sent_at in batch)
                    for _ in batch:
                        self._queue.task_done()
                    break
