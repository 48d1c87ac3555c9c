"""The monthly performance report (業務実績報告) of one site: what it holds, gathered from the
records. The writers (`xlsx.py`, `pdf.py`) only lay it out.

Counted: residents helped by the online counter (calls an operator took, by the day the
resident called, in the site's time zone) and by the support staff (cases recorded), by
procedure and result; the windows' opening status (scheduled days and minutes, serviceable
minutes, outages, staffing gaps); weekly inspections done and weeks missed; incidents and
complaints; and the bill.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.attendance.models import SupportAttendance
from cloud.calendar.days import DaySchedule, day_schedule, days
from cloud.calendar.intervals import opening_intervals
from cloud.calendar.schedule import load_site
from cloud.calendar.service import closures
from cloud.inspections.models import Incident, Inspection
from cloud.reports.billing import Bill, bill
from cloud.reports.intervals import intersect, minutes
from cloud.reports.month import month_range
from cloud.reports.service import uptime_report
from cloud.reports.uptime import SiteUptime
from cloud.routing.models import OUTCOME_LABELS as ROUTING_OUTCOMES
from cloud.routing.models import PROCEDURE_LABELS as ROUTING_PROCEDURES
from cloud.routing.models import CallRecord, StaffingGap, SupportCase
from cloud.settings import BillingSettings

# Records not yet given an outcome show as such.
PROCEDURE_LABELS: dict[str | None, str] = {None: "未記録"} | dict(ROUTING_PROCEDURES)
OUTCOME_LABELS: dict[str | None, str] = {None: "未記録"} | dict(ROUTING_OUTCOMES)
CHANNEL_LABELS = {"online": "オンライン窓口", "support": "支援員"}


@dataclass(frozen=True, slots=True)
class DayRow:
    schedule: DaySchedule
    scheduled_minutes: float
    online: int
    support: int
    staffing_gap_minutes: float


@dataclass(frozen=True, slots=True)
class InspectionWeek:
    start: date  # Monday
    end: date  # Sunday
    needed: bool  # the site opened on a day of this week
    done: bool


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    site_id: str
    site_name: str
    month: str
    first: date
    last: date
    zone: tzinfo
    generated_at: datetime
    days: tuple[DayRow, ...]
    # (channel, procedure, outcome) -> residents
    by_procedure: dict[tuple[str, str | None, str | None], int]
    uptime: SiteUptime
    weeks: tuple[InspectionWeek, ...]
    inspections: tuple[Inspection, ...]
    incidents: tuple[Incident, ...]
    bill: Bill

    @property
    def opening_days(self) -> int:
        return sum(1 for d in self.days if d.schedule.open)

    @property
    def online_total(self) -> int:
        return sum(d.online for d in self.days)

    @property
    def support_total(self) -> int:
        return sum(d.support for d in self.days)

    @property
    def staffing_gap_minutes(self) -> float:
        return sum(d.staffing_gap_minutes for d in self.days)

    @property
    def weeks_missed(self) -> tuple[InspectionWeek, ...]:
        return tuple(w for w in self.weeks if w.needed and not w.done)


async def monthly_report(
    *,
    db: AsyncSession,
    site_id: str,
    month: str,
    billing: BillingSettings,
    sites_dir: Path | None = None,
    now: datetime | None = None,
) -> MonthlyReport:
    now = now or datetime.now(UTC)
    site = load_site(site_id, sites_dir=sites_dir)
    zone = site.zone
    first, last = month_range(month)
    start_at = datetime.combine(first, time.min, zone)
    end_at = datetime.combine(last + timedelta(days=1), time.min, zone)
    recorded = await closures(db=db, site_id=site_id, start=first, end=last)
    schedules = list(days(site, first, last, recorded))

    calls = list(
        await db.scalars(
            select(CallRecord).where(
                CallRecord.site_id == site_id,
                CallRecord.requested_at >= start_at,
                CallRecord.requested_at < end_at,
                CallRecord.connected_at.is_not(None),
                CallRecord.training.is_(False),  # practice calls never count
            )
        )
    )
    cases = list(
        await db.scalars(
            select(SupportCase).where(
                SupportCase.site_id == site_id,
                SupportCase.recorded_at >= start_at,
                SupportCase.recorded_at < end_at,
            )
        )
    )
    online_per_day = Counter(c.requested_at.astimezone(zone).date() for c in calls)
    support_per_day = Counter(c.recorded_at.astimezone(zone).date() for c in cases)
    by_procedure: Counter[tuple[str, str | None, str | None]] = Counter()
    for c in calls:
        by_procedure["online", c.procedure, c.outcome] += 1
    for s in cases:
        by_procedure["support", s.procedure, s.outcome] += 1

    gaps = [
        (g.started_at, g.ended_at or min(now, end_at))
        for g in await db.scalars(
            select(StaffingGap).where(
                StaffingGap.site_id == site_id,
                StaffingGap.started_at < end_at,
                (StaffingGap.ended_at.is_(None)) | (StaffingGap.ended_at > start_at),
            )
        )
    ]
    rows = []
    for schedule in schedules:
        opening = opening_intervals(site, schedule.date, schedule.date, recorded)
        rows.append(
            DayRow(
                schedule=schedule,
                scheduled_minutes=minutes(opening),
                online=online_per_day.get(schedule.date, 0),
                support=support_per_day.get(schedule.date, 0),
                staffing_gap_minutes=minutes(intersect(opening, gaps)),
            )
        )

    inspections = tuple(
        await db.scalars(
            select(Inspection)
            .where(
                Inspection.site_id == site_id,
                Inspection.inspected_on >= first - timedelta(days=6),
                Inspection.inspected_on <= last + timedelta(days=6),
            )
            .order_by(Inspection.inspected_on, Inspection.id)
        )
    )
    inspected_days = {i.inspected_on for i in inspections}
    open_days = {r.schedule.date for r in rows if r.schedule.open}
    weeks = []
    # A week belongs to the month of its Thursday (as ISO 8601 weeks do), so a week across
    # two months is counted once.
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        sunday = monday + timedelta(days=6)
        if first <= monday + timedelta(days=3) <= last:
            week = [monday + timedelta(days=n) for n in range(7)]
            needed = any(
                d in open_days if first <= d <= last else day_schedule(site, d).open for d in week
            )
            weeks.append(
                InspectionWeek(
                    start=monday,
                    end=sunday,
                    needed=needed,
                    done=any(d in inspected_days for d in week),
                )
            )
        monday += timedelta(days=7)

    incidents = tuple(
        await db.scalars(
            select(Incident)
            .where(
                Incident.site_id == site_id,
                Incident.occurred_at >= start_at,
                Incident.occurred_at < end_at,
            )
            .order_by(Incident.occurred_at)
        )
    )
    attendance: Counter[date] = Counter(
        await db.scalars(
            select(SupportAttendance.day).where(
                SupportAttendance.site_id == site_id,
                SupportAttendance.day >= first,
                SupportAttendance.day <= last,
            )
        )
    )
    uptime = await uptime_report(
        db=db, site_id=site_id, start=first, end=last, now=now, sites_dir=sites_dir
    )
    return MonthlyReport(
        site_id=site_id,
        site_name=site.name,
        month=month,
        first=first,
        last=last,
        zone=zone,
        generated_at=now,
        days=tuple(rows),
        by_procedure=dict(by_procedure),
        uptime=uptime,
        weeks=tuple(weeks),
        inspections=tuple(i for i in inspections if first <= i.inspected_on <= last),
        incidents=incidents,
        bill=bill(
            site=site,
            month=month,
            first=first,
            last=last,
            attendance=dict(attendance),
            closures=recorded,
            settings=billing,
        ),
    )
