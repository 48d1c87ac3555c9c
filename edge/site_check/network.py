"""`control_plane_rtt`, `control_plane_throughput` (and the samples `clock` uses)."""

from __future__ import annotations

import statistics

from edge.site_check.items import at_least, at_most, failed
from edge.site_check.probe import ProbeClient, ProbeError, ProbeSample
from protocol.v1 import SiteCheckItem
from protocol.v1.messages import SiteCheckName

RTT: SiteCheckName = "control_plane_rtt"
THROUGHPUT: SiteCheckName = "control_plane_throughput"


async def round_trips(probe: ProbeClient, count: int) -> list[ProbeSample]:
    """A warm-up request (connection set-up is not the round trip), then `count` samples."""
    await probe.sample()
    return [await probe.sample() for _ in range(count)]


def rtt_item(samples: list[ProbeSample], *, limit_ms: float, host: str) -> SiteCheckItem:
    delays = [sample.delay_s * 1000 for sample in samples]
    median = statistics.median(delays)
    return at_most(
        RTT,
        median,
        limit_ms,
        "ms",
        f"median of {len(delays)} to {host} (min {min(delays):.1f}, max {max(delays):.1f} ms; "
        "server time excluded)",
    )


def _mbit_s(size: int, seconds: float) -> float:
    return size * 8 / max(seconds, 1e-9) / 1e6


async def throughput_item(probe: ProbeClient, *, size: int, limit_mbit_s: float) -> SiteCheckItem:
    try:
        down = _mbit_s(size, await probe.download(size))
        up = _mbit_s(size, await probe.upload(size))
    except ProbeError as exc:
        return failed(THROUGHPUT, str(exc), unit="Mbit/s", limit=limit_mbit_s)
    return at_least(
        THROUGHPUT,
        min(down, up),
        limit_mbit_s,
        "Mbit/s",
        f"down {down:.1f} Mbit/s, up {up:.1f} Mbit/s ({size / 1e6:.1f} MB each way); "
        "the lower counts",
    )
