"""Recording and reading closures. Every closure is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.calendar.days import Closure
from cloud.calendar.models import SiteClosure
from cloud.calendar.schedule import load_site


class ClosureError(ValueError):
    pass


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
    load_site(site_id, sites_dir=sites_dir)  # an unknown site raises UnknownSiteError
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise ClosureError("a closure needs a reason of 1 to 200 characters")
    if from_time and until_time and from_time >= until_time:
        raise ClosureError("--from must be earlier than --until")
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
    query = select(SiteClosure).where(SiteClosure.date >= start, SiteClosure.date <= end)
    if site_id is not None:
        query = query.where(SiteClosure.site_id == site_id)
    rows = await db.scalars(query.order_by(SiteClosure.date, SiteClosure.id))
    return [Closure(r.date, r.reason, r.from_time, r.until_time) for r in rows]


async def closure_rows(
    *, db: AsyncSession, site_id: str, start: date, end: date
) -> list[SiteClosure]:
    return list(
        await db.scalars(
            select(SiteClosure)
            .where(
                SiteClosure.site_id == site_id, SiteClosure.date >= start, SiteClosure.date <= end
            )
            .order_by(SiteClosure.date, SiteClosure.id)
        )
    )
