"""The fleet benchmark itself works: a small run loses nothing and the peer sees it all.
(No timing is asserted; the figures are for `madoguchi bench fleet`.)"""

from __future__ import annotations

from bench.fleet import run


async def test_small_fleet_run_loses_nothing() -> None:
    # Two simulator processes: the multi-process path the 2000-kiosk figure needs.
    result = await run(6, 5, interval=0.5, ramp=1, processes=2)
    assert result.produced > 20
    assert result.connected == 6  # both processes' kiosks
    # Zero loss: every reading is stored, or still waits on its kiosk for the next start.
    assert result.produced - result.still_queued <= result.stored <= result.produced
    assert result.ingested >= result.stored
    assert 0 < result.raw_received <= result.produced
    assert "lost 0" in result.report()
