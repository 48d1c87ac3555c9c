"""Recording and reading closures. Every closure is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.calendar.closures import ClosureError, check_closure
from cloud.calendar.days import Closure
from cloud.calendar.models import SiteClosure
from cloud.calendar.schedule import load_site

__all__ = ["ClosureError", "add_closure", "closure_rows", "closures"]


async def add_closure(
    *,
    db: AsyncSession,
    site_id: str,
    day: date,
    reason: str,
    recorded_by: str,
    from_time: time | None = None,
    until_time: time | None = None,
    sites_dir: Path | None = None,
) -> SiteClosure:
    """Record a closure after `check_closure`; raises `UnknownSiteError` or `ClosureError`."""
    site = load_site(site_id, sites_dir=sites_dir)
    reason = check_closure(site, day, reason, from_time=from_time, until_time=until_time)
    closure = SiteClosure(
        site_id=site_id,
        date=day,
        from_time=from_time,
        until_time=until_time,
        reason=reason,
        recorded_by=recorded_by,
        recorded_at=datetime.now(UTC),
    )
    db.add(closure)
    await db.flush()
    await record(
        db=db,
        actor=recorded_by,
        action="closure.add",
        target=f"site:{site_id}",
        detail={
            "date": day.isoformat(),
            "from": str(from_time or ""),
            "until": str(until_time or ""),
            "reason": reason,
        },
    )
    return closure


async def closures(
    *, db: AsyncSession, site_id: str | None, start: date, end: date
) -> list[Closure]:
    """The closures from `start` to `end` (both included) of one site, or of all sites."""
    query = select(SiteClosure).where(SiteClosure.date >= start, SiteClosure.date <= end)
    if site_id is not None:
        query = query.where(SiteClosure.site_id == site_id)
    rows = await db.scalars(query.order_by(SiteClosure.date, SiteClosure.id))
    return [Closure(r.date, r.reason, r.from_time, r.until_time) for r in rows]


async def closure_rows(
    *, db: AsyncSession, site_id: str, start: date, end: date
) -> list[SiteClosure]:
    """The recorded rows, with who recorded them and when, for listing."""
    return list(
        await db.scalars(
            select(SiteClosure)
            .where(
                SiteClosure.site_id == site_id, SiteClosure.date >= start, SiteClosure.date <= end
            )
            .order_by(SiteClosure.date, SiteClosure.id)
        )
    )
