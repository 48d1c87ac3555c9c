"""The fleet benchmark itself works: a small run loses nothing and the peer sees it all.
(No timing is asserted; the figures are for `madoguchi bench fleet`.)"""

from __future__ import annotations

from bench.fleet import run


async def test_small_fleet_run_loses_nothing() -> None:
    result = await run(5, 5, interval=0.5, ramp=1)
    assert result.produced > 20
    assert result.raw_received == result.produced - result.still_queued
    assert result.ingested == result.raw_received
    assert result.stored == result.produced - result.still_queued
    assert "ratio 1.00x" in result.report()
