"""The audit log as a hash chain: tampering with, inserting or deleting an entry is detected.

Entries are written inside the transaction of the action they record (no lock on the hot
path). A sealer then takes the entries older than `SETTLE` in id order and sets each one's
`chain_hash` = SHA-256(previous hash ‖ canonical JSON of the entry). `verify` recomputes the
chain; an entry changed, removed or slipped in shows as the first broken link, and an entry
left unsealed past `STALE` is reported too (the sealer should have taken it).

The settle time keeps the id order and the commit order the same: an entry is sealed only
when no transaction that could still commit a lower id is plausibly open.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.audit.models import AuditEntry

log = structlog.get_logger("cloud.audit")

GENESIS = "0" * 64
SETTLE = timedelta(seconds=10)
STALE = timedelta(minutes=5)
_LOCK_KEY = 0x6D61646F  # "mado": one sealer at a time across replicas (PostgreSQL)


def digest(previous: str, entry: AuditEntry) -> str:
    body = json.dumps(
        [entry.id, entry.at.isoformat(), entry.actor, entry.action, entry.target, entry.detail],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((previous + body).encode()).hexdigest()


async def seal(*, db: AsyncSession, now: datetime, batch: int = 1000) -> int:
    """Chain the settled, unsealed entries; returns how many were sealed."""
    if db.get_bind().dialect.name == "postgresql":
        locked = await db.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if not locked:
            return 0  # another replica is sealing
    last = await db.scalar(
        select(AuditEntry)
        .where(AuditEntry.chain_hash.is_not(None))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    previous = last.chain_hash if last is not None and last.chain_hash else GENESIS
    query = (
        select(AuditEntry)
        .where(AuditEntry.chain_hash.is_(None), AuditEntry.at < now - SETTLE)
        .order_by(AuditEntry.id)
        .limit(batch)
    )
    if last is not None:
        query = query.where(AuditEntry.id > last.id)
    sealed = 0
    for entry in await db.scalars(query):
        entry.chain_hash = digest(previous, entry)
        previous = entry.chain_hash
        sealed += 1
    await db.flush()
    return sealed


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    sealed: int
    unsealed: int
    broken_at: int | None = None
    reason: str = ""


async def verify(*, db: AsyncSession, now: datetime) -> Verification:
    # After a retention purge the chain resumes from the last entry removed (its anchor).
    from cloud.privacy.models import AuditAnchor

    anchor = await db.get(AuditAnchor, 1)
    previous = anchor.chain_hash if anchor is not None else GENESIS
    sealed = unsealed = 0
    chain_ended = False
    for entry in await db.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.chain_hash is None:
            unsealed += 1
            chain_ended = True
            if entry.at < now - STALE:
                return Verification(False, sealed, unsealed, entry.id, "left unsealed too long")
            continue
        if chain_ended:
            return Verification(
                False, sealed, unsealed, entry.id, "a sealed entry after an unsealed one"
            )
        if entry.chain_hash != digest(previous, entry):
            return Verification(
                False, sealed, unsealed, entry.id, "changed, or an entry before it removed"
            )
        previous = entry.chain_hash
        sealed += 1
    return Verification(True, sealed, unsealed)


class AuditSealer:
    """Seals the audit log every few seconds (every replica; one at a time)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, interval_s: float = 5.0
    ) -> None:
        self._sessions = sessions
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            try:
                async with self._sessions() as db, db.begin():
                    await seal(db=db, now=datetime.now(UTC))
            except Exception:
                log.exception("audit_seal_failed")
            await asyncio.sleep(self._interval_s)
