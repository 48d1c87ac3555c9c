"""Reading what the uptime report needs from the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.calendar.schedule import load_site
from cloud.calendar.service import closures
from cloud.fleet.models import Kiosk, KioskEvent, KioskStateChange
from cloud.reports.uptime import PeripheralChange, SiteUptime, StateChange, site_uptime
from cloud.routing.models import StaffingGap


async def state_changes(
    *, db: AsyncSession, site_id: str, start_at: datetime, end_at: datetime
) -> dict[str, Sequence[StateChange]]:
    """Each kiosk of the site: its last change before `start_at` (the state it entered the
    period in) and every change up to `end_at`."""
    kiosk_ids = list(
        await db.scalars(
            # A training kiosk is not one of the site's windows.
            select(Kiosk.kiosk_id).where(Kiosk.site_id == site_id, Kiosk.training.is_(False))
        )
    )
    result: dict[str, Sequence[StateChange]] = {}
    for kiosk_id in kiosk_ids:
        before = await db.scalar(
            select(KioskStateChange)
            .where(KioskStateChange.kiosk_id == kiosk_id, KioskStateChange.at < start_at)
            .order_by(KioskStateChange.at.desc(), KioskStateChange.id.desc())
            .limit(1)
        )
        during = await db.scalars(
            select(KioskStateChange)
            .where(
                KioskStateChange.kiosk_id == kiosk_id,
                KioskStateChange.at >= start_at,
                KioskStateChange.at < end_at,
            )
            .order_by(KioskStateChange.at, KioskStateChange.id)
        )
        rows = ([before] if before else []) + list(during)
        result[kiosk_id] = [StateChange(r.at, r.status, r.cause) for r in rows]
    return result


async def uptime_report(
    *,
    db: AsyncSession,
    site_id: str,
    start: date,
    end: date,
    now: datetime | None = None,
    sites_dir: Path | None = None,
) -> SiteUptime:
    site = load_site(site_id, sites_dir=sites_dir)
    now = now or datetime.now(UTC)
    zone = site.zone
    start_at = datetime.combine(start, datetime.min.time(), zone)
    end_at = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    changes = await state_changes(db=db, site_id=site_id, start_at=start_at, end_at=end_at)
    recorded = await closures(db=db, site_id=site_id, start=start, end=end)
    gaps = [
        (g.started_at, g.ended_at or now)
        for g in await db.scalars(
            select(StaffingGap).where(
                StaffingGap.site_id == site_id,
                StaffingGap.started_at < end_at,
                StaffingGap.ended_at.is_(None) | (StaffingGap.ended_at > start_at),
            )
        )
    ]
    return site_uptime(
        site,
        start,
        end,
        changes,
        closures=recorded,
        now=now,
        no_operator=gaps,
        peripherals=await peripheral_changes(
            db=db, kiosk_ids=list(changes), start_at=start_at, end_at=end_at
        ),
    )


async def peripheral_changes(
    *, db: AsyncSession, kiosk_ids: list[str], start_at: datetime, end_at: datetime
) -> dict[str, Sequence[PeripheralChange]]:
    """Critical peripherals stopping and starting, per kiosk, from its events (with the last
    change before the period, so a reader broken since last month counts)."""
    names = ("peripheral_disconnected", "peripheral_connected")
    result: dict[str, Sequence[PeripheralChange]] = {}
    for kiosk_id in kiosk_ids:
        rows = list(
            await db.scalars(
                select(KioskEvent)
                .where(
                    KioskEvent.kiosk_id == kiosk_id,
                    KioskEvent.name.in_(names),
                    KioskEvent.sent_at < end_at,
                )
                .order_by(KioskEvent.sent_at, KioskEvent.seq)
            )
        )
        # Before the period only the last change per peripheral matters.
        last_before: dict[str, KioskEvent] = {}
        during = []
        for row in rows:
            if row.peripheral is None:
                continue
            if row.sent_at < start_at:
                last_before[row.peripheral] = row
            else:
                during.append(row)
        result[kiosk_id] = [
            PeripheralChange(
                max(r.sent_at, start_at), r.peripheral or "", r.name == "peripheral_connected"
            )
            for r in [*last_before.values(), *during]
        ]
    return result


def as_json(report: SiteUptime) -> dict[str, object]:
    def ratio(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "site_id": report.site_id,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "scheduled_minutes": round(report.scheduled_minutes, 1),
        "uptime": ratio(report.ratio),
        "windows": [
            {
                "kiosk_id": w.kiosk_id,
                "scheduled_minutes": round(w.scheduled_minutes, 1),
                "serviceable_minutes": round(w.serviceable_minutes, 1),
                "uptime": ratio(w.ratio),
                "outages": [
                    {
                        "start": o.start.isoformat(),
                        "end": o.end.isoformat(),
                        "minutes": round(o.minutes, 1),
                        "cause": o.cause,
                    }
                    for o in w.outages
                ],
            }
            for w in report.windows
        ],
    }
