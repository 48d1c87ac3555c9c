"""End-to-end fleet ingest: N simulated kiosks → Mosquitto → control plane → VictoriaMetrics.

Peer: a bare paho subscriber draining the same broker in the same run (bench/raw_subscriber).
The ratio says how much of what the broker delivers the control plane ingests, with every
reading checked in VictoriaMetrics (zero loss) and the lag from a reading's own time to its
write into the store.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.servers import start_broker
from cloud.app import create_app
from cloud.settings import AlertSettings, CloudSettings, TimeSeriesSettings
from madoguchi.mosquitto import free_port
from madoguchi.victoria import VictoriaMetricsProcess


@dataclass(frozen=True)
class FleetResult:
    kiosks: int
    connected: int  # kiosks connected when the simulation ended
    seconds: float
    produced: int
    still_queued: int  # readings the kiosks kept on disk at stop (sent on their next start)
    raw_received: int
    ingested: int
    stored: int
    lag_p50_s: float
    lag_p99_s: float

    def report(self) -> str:
        ratio = self.ingested / self.raw_received if self.raw_received else 0.0
        # At-least-once: a reading published just before the stop may be both stored and
        # kept on the kiosk, so the difference can go below zero; that is not a loss.
        loss = max(0, self.produced - self.still_queued - self.stored)
        return (
            f"fleet: {self.kiosks} kiosks ({self.connected} connected at the end) for "
            f"{self.seconds:.0f} s, {self.produced} readings "
            f"({self.produced / self.seconds:,.0f}/s offered)\n"
            f"  raw paho peer drained {self.raw_received:,} "
            f"({self.raw_received / self.seconds:,.0f} msg/s)\n"
            f"  control plane ingested {self.ingested:,} into VictoriaMetrics "
            f"({self.ingested / self.seconds:,.0f} msg/s); ratio {ratio:.2f}x the raw peer\n"
            f"  stored samples {self.stored:,}; kept on kiosks at stop {self.still_queued}; "
            f"lost {loss}; ingest lag p50 "
            f"{self.lag_p50_s:.3f} s, p99 {self.lag_p99_s:.3f} s"
        )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def _stored_samples(store: VictoriaMetricsProcess, *, expected: int) -> int:
    """Samples of `kiosk_seq` in the store; freshly written rows can take a moment to become
    searchable, so wait (bounded) for the count to reach what was written."""
    stored = 0
    for _ in range(50):
        series = await asyncio.to_thread(store.export, '{__name__="kiosk_seq"}')
        stored = sum(len(s["values"]) for s in series)  # type: ignore[arg-type,misc]
        if stored >= expected:
            break
        await asyncio.sleep(0.2)
    return stored


async def run(
    kiosks: int, seconds: float, *, interval: float = 1.0, ramp: float = 10.0, processes: int = 1
) -> FleetResult:
    work = Path(tempfile.mkdtemp(prefix="madoguchi-bench-fleet-"))
    bench_broker = start_broker(work)
    ca, port, broker = bench_broker.ca, bench_broker.port, bench_broker.process
    store = VictoriaMetricsProcess(work / "vm", free_port())
    store.start()
    peer_cert = ca.issue_cloud(work / "peer")
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{work / 'cloud.db'}",
        mqtt=bench_broker.cloud_settings(work),
        # Telemetry only, so that every point written is a reading the peer also saw.
        timeseries=TimeSeriesSettings(
            enabled=True, url=store.url, flush_interval_s=0.25, uptime_minutes=False
        ),
        alerts=AlertSettings(enabled=False),  # the simulated kiosks stopping is no incident
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            writer = app.state.timeseries
            writer.lags = []
            await asyncio.wait_for(app.state.consumer.connected.wait(), 30)
            peer = subprocess.Popen(  # noqa: ASYNC220 - started once, read in a thread
                [
                    sys.executable,
                    "-m",
                    "bench.raw_subscriber",
                    "localhost",
                    str(port),
                    str(ca.cert_path),
                    str(peer_cert.cert_path),
                    str(peer_cert.key_path),
                    str(seconds + ramp),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert peer.stdout is not None
            await asyncio.to_thread(peer.stdout.readline)  # "ready"
            simulator = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "madoguchi",
                "simulate",
                "--kiosks",
                str(kiosks),
                "--ca-dir",
                str(ca.directory),
                "--broker-port",
                str(port),
                "--interval",
                str(interval),
                "--seconds",
                str(seconds + ramp),
                "--ramp",
                str(ramp),
                "--state-dir",
                str(work / "sim"),
                "--prefix",
                "bench",
                "--processes",
                str(processes),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await simulator.communicate()
            summary = json.loads(out.decode().strip().splitlines()[-1])
            produced, still_queued = summary["produced_telemetry"], summary["still_queued"]
            raw = json.loads(
                (await asyncio.to_thread(peer.communicate, None, 120))[0].strip().splitlines()[-1]
            )["received"]
            deadline = time.monotonic() + 120
            while writer.written < produced - still_queued and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            ingested = writer.written
            lags = list(writer.lags)
        stored = await _stored_samples(store, expected=ingested)
    finally:
        store.stop()
        broker.stop()
    return FleetResult(
        kiosks=kiosks,
        connected=summary["connected_at_end"],
        seconds=seconds + ramp,
        produced=produced,
        still_queued=still_queued,
        raw_received=raw,
        ingested=ingested,
        stored=stored,
        lag_p50_s=_percentile(lags, 50),
        lag_p99_s=_percentile(lags, 99),
    )
