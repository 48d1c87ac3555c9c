"""Wakes this replica's operator consoles when routing state changed.

Consoles on other replicas see the change at their next poll (`CallSettings.tick_s`); the
database is the only shared state, so no replica-to-replica channel is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class RoutingHub:
    def __init__(self) -> None:
        self._watchers: set[asyncio.Event] = set()

    def notify(self) -> None:
        for event in self._watchers:
            event.set()

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._watchers.add(event)
        try:
            yield event
        finally:
            self._watchers.discard(event)
