"""Messages waiting for the broker.

A message leaves the outbox only after the broker acknowledged it (`peek` then `ack`), so
a connection that drops mid-publish loses nothing. When full, the oldest telemetry is
dropped first; events and command results are never dropped for telemetry. The disk-backed
store-and-forward queue implements the same interface.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from protocol.v1.topics import TopicKind

DROPPABLE = frozenset({TopicKind.TELEMETRY})


@dataclass(frozen=True, slots=True)
class Outgoing:
    kind: TopicKind
    payload: bytes
    retain: bool = False


class OutboxFullError(RuntimeError):
    pass


class Outbox:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outgoing) -> None:
        if len(self._items) >= self._limit and not self._drop_oldest_droppable():
            if item.kind in DROPPABLE:
                self.dropped += 1
                return
            raise OutboxFullError(f"outbox holds {self._limit} undroppable messages")
        self._items.append(item)
        self._ready.set()

    def _drop_oldest_droppable(self) -> bool:
        for index, queued in enumerate(self._items):
            if queued.kind in DROPPABLE:
                del self._items[index]
                self.dropped += 1
                return True
        return False

    async def peek(self) -> Outgoing:
        """The oldest message, waiting for one if the outbox is empty."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items[0]

    def ack(self, item: Outgoing) -> None:
        """Remove `item` after the broker confirmed it (it may have been dropped meanwhile)."""
        if self._items and self._items[0] is item:
            self._items.popleft()
