"""Reconnect delays: exponential with full jitter, reset after a good connection.

Part of the contract because it is fleet behaviour: every kiosk and every control-plane
replica backs off the same way, so a broker restart is not met by a synchronised storm.

Written here rather than taken from tenacity because the loop it drives never ends: the
delay must start small again after every successful session, which tenacity's retry state
does not model.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, *, minimum: float, maximum: float) -> None:
        self._minimum = minimum
        self._maximum = maximum
        self._attempt = 0

    def next_delay(self) -> float:
        """Full jitter: uniform in [minimum, min(maximum, minimum * 2**attempt)], so a fleet
        that lost the broker together does not come back together."""
        ceiling = min(self._maximum, self._minimum * 2**self._attempt)
        self._attempt += 1
        return random.uniform(self._minimum, max(self._minimum, ceiling))

    def reset(self) -> None:
        self._attempt = 0
