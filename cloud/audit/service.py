"""Appending to the audit log, inside the caller's transaction (an action and its entry
commit or roll back together)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.models import AuditEntry


async def record(
    *, db: AsyncSession, actor: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    entry = AuditEntry(
        at=datetime.now(UTC), actor=actor, action=action, target=target, detail=detail or {}
    )
    db.add(entry)
    await db.flush()
    return entry


async def entries(
    *, db: AsyncSession, target: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return list(await db.scalars(query))
