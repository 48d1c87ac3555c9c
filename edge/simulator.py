"""A fleet of real kiosk agents in one process, for load tests and the demo.

Every simulated kiosk is a full `KioskAgent` (same link, outbox, counters, commands) with
simulated peripherals; only the host sampler is shared, so N agents cost one psutil reading
per interval instead of N.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from edge.agent import KioskAgent
from edge.settings import EdgeSettings
from edge.telemetry.host import HostSampler
from protocol.v1 import HostHealth


class SharedSampler(HostSampler):
    """One real reading shared by every agent for `max_age_s`."""

    def __init__(self, *, max_age_s: float = 0.5) -> None:
        super().__init__()
        self._max_age_s = max_age_s
        self._cached: tuple[float, HostHealth] | None = None
        self._lock = asyncio.Lock()

    async def sample(self) -> HostHealth:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self._max_age_s:
                self._cached = (now, await super().sample())
            return self._cached[1]


class Fleet:
    def __init__(self, settings: Sequence[EdgeSettings]) -> None:
        sampler = SharedSampler()
        self.agents = [KioskAgent(s, sampler=sampler) for s in settings]
        self._runs: list[asyncio.Task[None]] = []

    async def start(self, *, ramp_s: float = 0.0) -> None:
        """Start every agent, spread over `ramp_s` so they do not connect in one burst."""
        gap = ramp_s / max(1, len(self.agents))
        for agent in self.agents:
            self._runs.append(asyncio.create_task(agent.run()))
            if gap:
                await asyncio.sleep(gap)

    def connected(self) -> int:
        return sum(agent.link.connected.is_set() for agent in self.agents)

    async def stop(self, *, timeout_s: float = 30.0) -> int:
        """Stop every agent; returns how many had to be cancelled after `timeout_s`."""
        for agent in self.agents:
            agent.stop()
        _, pending = await asyncio.wait(self._runs, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        return len(pending)
