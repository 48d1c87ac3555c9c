"""The kiosk's disk-backed queue for store-and-forward (SQLite in the state directory).

Written to only while the broker is away (see `Outbox`), so the SD card of a healthy kiosk
sees no writes. A row is deleted only after the broker acknowledged it. WAL mode keeps the
file consistent when the agent is killed mid-write: a torn transaction is rolled back on
the next open, never half-applied.

Bounded: past `max_rows` the oldest droppable row (telemetry) goes first; telemetry older
than `telemetry_ttl_s` is dropped; events and command results are never dropped for room —
if only they remain, the queue refuses loudly (`OutboxFullError`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from edge.outbox import DROPPABLE, OutboxFullError, Outgoing
from protocol.v1.topics import TopicKind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queued (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    droppable INTEGER NOT NULL,
    queued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queued_droppable ON queued (droppable, id);
"""


class DiskQueue:
    def __init__(
        self, path: Path, *, max_rows: int = 200_000, telemetry_ttl_s: float = 7 * 24 * 3600
    ) -> None:
        self._path = path
        self._max_rows = max_rows
        self._ttl_s = telemetry_ttl_s
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._rows = self._count()
        self.dropped = 0

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM queued").fetchone()[0])

    def __len__(self) -> int:
        return self._rows

    def close(self) -> None:
        self._db.close()

    def put_many(self, items: Iterable[Outgoing]) -> None:
        """Append in order, in one transaction."""
        rows = [
            (i.kind.value, i.payload, int(i.retain), int(i.kind in DROPPABLE), time.time())
            for i in items
        ]
        if not rows:
            return
        self._make_room(len(rows))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO queued (kind, payload, retain, droppable, queued_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._rows += len(rows)

    def put(self, item: Outgoing) -> None:
        self.put_many([item])

    def _make_room(self, needed: int) -> None:
        expired = self._db.execute(
            "DELETE FROM queued WHERE droppable = 1 AND queued_at < ?",
            (time.time() - self._ttl_s,),
        ).rowcount
        self.dropped += expired
        self._rows -= expired
        excess = self._rows + needed - self._max_rows
        if excess <= 0:
            return
        removed = self._db.execute(
            "DELETE FROM queued WHERE id IN "
            "(SELECT id FROM queued WHERE droppable = 1 ORDER BY id LIMIT ?)",
            (excess,),
        ).rowcount
        self.dropped += removed
        self._rows -= removed
        if self._rows + needed > self._max_rows:
            raise OutboxFullError(
                f"the disk queue holds {self._rows} messages that may not be dropped"
            )

    def get_batch(self, limit: int) -> list[tuple[int, Outgoing]]:
        """The oldest `limit` rows, still queued until `ack_batch`."""
        cursor = self._db.execute(
            "SELECT id, kind, payload, retain FROM queued ORDER BY id LIMIT ?", (limit,)
        )
        return [
            (row_id, Outgoing(TopicKind(kind), bytes(payload), bool(retain)))
            for row_id, kind, payload, retain in cursor
        ]

    def ack_batch(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        placeholders = ",".join("?" * len(row_ids))
        deleted = self._db.execute(
            f"DELETE FROM queued WHERE id IN ({placeholders})",  # noqa: S608 - placeholders only
            row_ids,
        ).rowcount
        self._rows -= deleted
