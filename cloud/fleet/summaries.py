"""The newest health reading of every kiosk, written to the registry in one transaction per
interval instead of one per message: the registry shows the latest state, and the time
series keeps every reading, so a thousand kiosks reporting every second cost one small
batch a second here."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.fleet.models import Kiosk
from protocol.v1 import TelemetryMessage

log = structlog.get_logger("cloud.summaries")


class HealthSummaries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval_s: float = 1.0):
        self._sessions = sessions
        self._interval_s = interval_s
        self._pending: dict[str, tuple[TelemetryMessage, datetime, dict[str, Any]]] = {}
        self.site_of: dict[str, str] = {}
        self.flushed = 0

    async def load_sites(self) -> None:
        async with self._sessions() as db:
            rows = await db.execute(select(Kiosk.kiosk_id, Kiosk.site_id))
            self.site_of.update({kiosk_id: site_id for kiosk_id, site_id in rows})

    def offer(
        self, message: TelemetryMessage, received_at: datetime, *, historical: bool = False
    ) -> None:
        current = self._pending.get(message.kiosk_id)
        if current is None or message.seq > current[0].seq:
            host = message.host.model_dump()
            host["outbox_depth"] = message.outbox_depth
            if message.call is not None:  # only while a call is in progress
                host["call"] = message.call.model_dump()
            if message.network is not None:
                host.update(message.network.model_dump())
            if not historical:
                # A live reading's age on arrival: the kiosk's clock offset (plus transit).
                host["clock_offset_s"] = round((message.sent_at - received_at).total_seconds(), 3)
            self._pending[message.kiosk_id] = (message, received_at, host)

    async def flush(self) -> int:
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        rows: list[dict[str, Any]] = [
            {
                "b_kiosk_id": kiosk_id,
                "b_seq": message.seq,
                "b_seen": received_at,
                "b_host": host,
                "b_peripherals": [p.model_dump() for p in message.peripherals],
            }
            for kiosk_id, (message, received_at, host) in batch.items()
        ]
        statement = (
            update(Kiosk)
            .where(
                Kiosk.kiosk_id == bindparam("b_kiosk_id"),
                Kiosk.last_telemetry_seq < bindparam("b_seq"),
            )
            .values(
                last_telemetry_seq=bindparam("b_seq"),
                last_seen_at=bindparam("b_seen"),
                host=bindparam("b_host"),
                peripherals=bindparam("b_peripherals"),
            )
            .execution_options(synchronize_session=False)
        )
        try:
            async with self._sessions() as db, db.begin():
                connection = await db.connection()
                await connection.execute(statement, rows)
        except Exception:
            # Put them back (a newer reading that came meanwhile wins) and retry next time.
            for kiosk_id, pending in batch.items():
                current = self._pending.get(kiosk_id)
                if current is None or pending[0].seq > current[0].seq:
                    self._pending[kiosk_id] = pending
            raise
        self.flushed += len(rows)
        return len(rows)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("summary_flush_failed")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
