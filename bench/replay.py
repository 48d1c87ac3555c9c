"""`madoguchi bench replay`: a kiosk back after a day offline replays its backlog.

A kiosk's disk queue is filled with `hours` of readings (one per `interval` s, original
timestamps in the past), then the real agent connects to the real broker and control plane
and replays it, paced (`replay_rate_per_s`) so a fleet coming back together does not storm
the broker. Measured: time until every reading is stored in VictoriaMetrics, the replay
rate, and the peer — a bare paho publisher sending the same number of messages unpaced on
the same broker, in the same run (the broker's own ceiling on this machine).
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt

from bench.fleet import _stored_samples
from bench.servers import start_broker
from cloud.app import create_app
from cloud.settings import AlertSettings, CloudSettings, TimeSeriesSettings
from edge.agent import KioskAgent
from edge.outbox import Outgoing
from edge.settings import EdgeSettings
from edge.store import DiskQueue
from madoguchi.mosquitto import free_port
from madoguchi.victoria import VictoriaMetricsProcess
from protocol.transport import client_tls_context
from protocol.v1 import HostHealth, TelemetryMessage, TopicKind, encode, topic


@dataclass
class ReplayResult:
    hours: float
    readings: int
    pace: float
    replay_s: float
    stored: int
    peer_rate: float

    def report(self) -> str:
        rate = self.readings / self.replay_s if self.replay_s else 0.0
        return (
            f"replay: a kiosk {self.hours:g} h offline → {self.readings:,} readings on disk\n"
            f"  replayed and stored in {self.replay_s:.1f} s = {rate:,.0f} readings/s "
            f"(pace {self.pace:g}/s), stored {self.stored:,}, lost {self.readings - self.stored}\n"
            f"  peer: a bare client publishing unpaced on the same broker (QoS 1, PUBACK per "
            f"message) {self.peer_rate:,.0f} msg/s → the paced replay uses "
            f"{rate / self.peer_rate:.1%} of it"
        )


def _backlog(kiosk_id: str, hours: float, interval_s: float) -> list[bytes]:
    count = int(hours * 3600 / interval_s)
    start = datetime.now(UTC) - timedelta(hours=hours)
    return [
        encode(
            TelemetryMessage(
                kiosk_id=kiosk_id,
                sent_at=start + timedelta(seconds=n * interval_s),
                seq=n + 1,
                interval_s=interval_s,
                host=HostHealth(
                    cpu_percent=10.0,
                    memory_percent=30.0,
                    memory_used_bytes=1,
                    disk_percent=40.0,
                    disk_free_bytes=1,
                    uptime_s=float(n),
                ),
            )
        )
        for n in range(count)
    ]


async def _peer_rate(host: str, port: int, context: ssl.SSLContext, kiosk_id: str, n: int) -> float:
    payload = b"x" * 400
    async with aiomqtt.Client(
        host,
        port,
        identifier=f"{kiosk_id}-peer",
        tls_context=context,
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        started = time.perf_counter()
        for _ in range(n):
            await client.publish(topic(kiosk_id, TopicKind.EVENT) + "/peer", payload, qos=1)
        return n / (time.perf_counter() - started)


async def run(*, hours: float, interval_s: float, pace: float) -> ReplayResult:
    work = Path(tempfile.mkdtemp(prefix="madoguchi-bench-replay-"))
    bench_broker = start_broker(work)
    ca, port, broker = bench_broker.ca, bench_broker.port, bench_broker.process
    store = VictoriaMetricsProcess(work / "vm", free_port())
    store.start()
    kiosk = ca.issue_kiosk("replay-k1", work / "kiosk")
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{work / 'cloud.db'}",
        mqtt=bench_broker.cloud_settings(work),
        timeseries=TimeSeriesSettings(
            enabled=True, url=store.url, flush_interval_s=0.25, uptime_minutes=False
        ),
        alerts=AlertSettings(enabled=False),
    )
    edge = EdgeSettings(
        kiosk_id="replay-k1",
        site_id="city-hall",
        broker_host="localhost",
        broker_port=port,
        ca_file=ca.cert_path,
        cert_file=kiosk.cert_path,
        key_file=kiosk.key_path,
        state_dir=work / "kiosk-state",
        clock_sync_wait_s=0,
        calls=False,
        telemetry_interval_s=3600,
        replay_rate_per_s=pace,
    )
    edge.state_dir.mkdir(parents=True)
    readings = _backlog("replay-k1", hours, interval_s)
    queue = DiskQueue(edge.state_dir / "outbox.sqlite3")
    queue.put_many([Outgoing(TopicKind.TELEMETRY, payload) for payload in readings])
    queue.close()
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(app.state.consumer.connected.wait(), 30)
            agent = KioskAgent(edge)
            running = asyncio.create_task(agent.run())
            await asyncio.wait_for(agent.link.connected.wait(), 30)
            started = time.perf_counter()
            writer = app.state.timeseries
            expected = len(readings) + 1  # plus the agent's own first reading
            async with asyncio.timeout(len(readings) / pace * 3 + 120):
                while writer.written < expected:  # noqa: ASYNC110 - a counter, polled
                    await asyncio.sleep(0.2)
            replay_s = time.perf_counter() - started
            agent.stop()
            await asyncio.wait_for(running, 15)
        stored = await _stored_samples(store, expected=expected) - 1
        context = client_tls_context(ca.cert_path, kiosk.cert_path, kiosk.key_path)
        peer = await _peer_rate("localhost", port, context, "replay-k1", min(len(readings), 5000))
    finally:
        store.stop()
        broker.stop()
    return ReplayResult(hours, len(readings), pace, replay_s, stored, peer)
