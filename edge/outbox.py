"""Messages waiting for the broker.

A message leaves the outbox only after the broker acknowledged it (`peek`, publish, `ack`),
so a connection that drops mid-publish loses nothing (the cloud de-duplicates the rare
repeat by (kiosk, seq)).

While the link is up, messages wait in memory. When it goes down, the waiting messages and
every new one go to the disk queue (`DiskQueue`) — disk is written only while offline. After
reconnecting, the disk backlog is replayed in order, marked historical, and new messages
queue behind it until it is empty; then memory takes over again.

In memory, when full, the oldest telemetry is dropped first; events and command results are
never dropped for telemetry.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from protocol.v1.topics import TopicKind

if TYPE_CHECKING:
    from edge.store import DiskQueue

DROPPABLE = frozenset({TopicKind.TELEMETRY})
# Call signaling is useful only now: it jumps the queue (a resident is waiting) and is never
# kept for later (an SDP offer replayed after an outage would set up a dead call).
URGENT = frozenset({TopicKind.CALL_UP})


@dataclass(frozen=True, slots=True)
class Outgoing:
    kind: TopicKind
    payload: bytes
    retain: bool = False
    historical: bool = False  # replayed from the disk queue after an outage
    row_id: int | None = None  # its row in the disk queue


class OutboxFullError(RuntimeError):
    pass


class Outbox:
    def __init__(self, limit: int, *, disk: DiskQueue | None = None, batch: int = 200) -> None:
        self._limit = limit
        self._items: deque[Outgoing] = deque()
        self._disk = disk
        self._batch = batch
        self._replay: deque[Outgoing] = deque()
        # True from an outage until its backlog has been replayed.
        self._via_disk = disk is not None and len(disk) > 0
        self._ready = asyncio.Event()
        self._urgent: deque[Outgoing] = deque()
        self._online = False
        self.dropped = 0

    def __len__(self) -> int:
        disk = len(self._disk) if self._disk is not None else 0
        return len(self._items) + disk

    @property
    def depth(self) -> int:
        return len(self)

    def put_urgent(self, item: Outgoing) -> bool:
        """Queue a call message ahead of everything; False (not queued) while offline."""
        if not self._online:
            return False
        self._urgent.append(item)
        self._ready.set()
        return True

    def put(self, item: Outgoing) -> None:
        if item.kind in URGENT:
            self.put_urgent(item)
            return
        if self._via_disk and self._disk is not None:
            self._disk.put(item)
        else:
            self._put_memory(item)
        self._ready.set()

    def _put_memory(self, item: Outgoing) -> None:
        if len(self._items) >= self._limit and not self._drop_oldest_droppable():
            if item.kind in DROPPABLE:
                self.dropped += 1
                return
            raise OutboxFullError(f"outbox holds {self._limit} undroppable messages")
        self._items.append(item)

    def _drop_oldest_droppable(self) -> bool:
        for index, queued in enumerate(self._items):
            if queued.kind in DROPPABLE:
                del self._items[index]
                self.dropped += 1
                return True
        return False

    def link_down(self) -> None:
        """The broker is away: keep everything on disk from now on, in order."""
        self._online = False
        self.dropped += len(self._urgent)
        self._urgent.clear()
        if self._disk is None:
            return
        if self._items:
            self._disk.put_many(self._items)
            self._items.clear()
        self._replay.clear()  # those rows are still on disk; re-read after reconnecting
        self._via_disk = True

    async def peek(self) -> Outgoing:
        """The oldest message, waiting for one if the outbox is empty."""
        while True:
            if self._urgent:
                return self._urgent[0]
            if self._via_disk and self._disk is not None:
                if not self._replay:
                    self._replay.extend(
                        replace(item, historical=True, row_id=row_id)
                        for row_id, item in self._disk.get_batch(self._batch)
                    )
                if self._replay:
                    return self._replay[0]
                if self._items:
                    # Messages queued in memory before the outage was noticed.
                    return self._items[0]
            elif self._items:
                return self._items[0]
            self._ready.clear()
            await self._ready.wait()

    def ack(self, item: Outgoing) -> None:
        """Remove `item` after the broker confirmed it (it may have been dropped meanwhile)."""
        if self._urgent and self._urgent[0] is item:
            self._urgent.popleft()
            return
        if item.row_id is not None:
            if self._replay and self._replay[0] is item:
                self._replay.popleft()
            if self._disk is not None:
                self._disk.ack_batch([item.row_id])
        elif self._items and self._items[0] is item:
            self._items.popleft()

    def link_up(self) -> None:
        """Connected again: the backlog replays first; memory takes over once it is empty."""
        self._online = True
        self._ready.set()

    def settle(self) -> None:
        """Called after an acknowledgement while connected: leave the disk once drained."""
        if self._via_disk and self._disk is not None and len(self._disk) == 0:
            self._via_disk = False
            self._replay.clear()
