"""The roster in the database: shifts added and removed (audited), the coverage forecast of
a site, and the coverage right now for the live alert."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alerts.rules import Condition
from cloud.audit.service import record
from cloud.auth.models import Role, StaffUser
from cloud.calendar.days import DaySchedule, days
from cloud.calendar.intervals import Interval, opening_intervals, support_intervals
from cloud.calendar.lookup import OpeningHours
from cloud.calendar.schedule import SiteSchedule, UnknownSiteError
from cloud.calendar.service import closures
from cloud.fleet.models import Kiosk
from cloud.shifts.coverage import Gap, operator_gaps, support_gaps
from cloud.shifts.models import Shift

# Shift times are the city's local times, whatever the site's zone.
ROSTER_ZONE = ZoneInfo("Asia/Tokyo")
# The contract's number of online windows (設置数：２窓口), for a site with no kiosk yet.
DEFAULT_WINDOWS = 2
DUTIES = {Role.OPERATOR.value: "operator", Role.SUPPORT.value: "support"}
COVERAGE_GAP = "coverage_gap"

ScheduleOf = Callable[[str], SiteSchedule | None]


class ShiftError(ValueError):
    """A shift that cannot be recorded; the message says why."""


class ShiftConflictError(ShiftError):
    """The staff member already has a shift overlapping this one."""


@dataclass(frozen=True, slots=True)
class RosterEntry:
    shift_id: int
    username: str
    display_name: str
    duty: str
    site_id: str | None
    date: date
    start: time
    end: time

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.shift_id,
            "username": self.username,
            "display_name": self.display_name,
            "duty": self.duty,
            "site_id": self.site_id,
            "date": self.date.isoformat(),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


@dataclass(slots=True)
class DayCoverage:
    schedule: DaySchedule
    operators: list[RosterEntry] = field(default_factory=list)
    support: list[RosterEntry] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.gaps


@dataclass(slots=True)
class Forecast:
    site_id: str
    start: date
    end: date
    windows: int
    zone: ZoneInfo
    days: list[DayCoverage]

    @property
    def gaps(self) -> list[Gap]:
        return [gap for day in self.days for gap in day.gaps]


def _entry(shift: Shift, user: StaffUser) -> RosterEntry:
    return RosterEntry(
        shift.id,
        user.username,
        user.display_name,
        shift.duty,
        shift.site_id,
        shift.date,
        shift.start,
        shift.end,
    )


def _interval(entry: RosterEntry) -> Interval:
    return (
        datetime.combine(entry.date, entry.start, ROSTER_ZONE),
        datetime.combine(entry.date, entry.end, ROSTER_ZONE),
    )


# --- the roster --------------------------------------------------------------------------------


async def add_shift(
    *,
    db: AsyncSession,
    username: str,
    day: date,
    start: time,
    end: time,
    site_id: str | None,
    created_by: str,
    schedule_of: ScheduleOf,
) -> RosterEntry:
    """Record a shift; raises `ShiftError` (or `ShiftConflictError`) if it cannot be."""
    user = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise ShiftError(f"no staff member '{username}'")
    duty = DUTIES.get(user.role)
    if duty is None:
        raise ShiftError(f"'{username}' is {user.role}: shifts are for operators and support staff")
    if start >= end:
        raise ShiftError(f"a shift from {start:%H:%M} must end after it starts, not at {end:%H:%M}")
    if duty == "support":
        if not site_id:
            raise ShiftError("a support staff member's shift needs the site")
        if schedule_of(site_id) is None:
            raise ShiftError(f"no schedule for site '{site_id}'")
    else:
        site_id = None  # operators serve every site's windows
    overlapping = await db.scalar(
        select(Shift.id).where(
            Shift.user_id == user.id, Shift.date == day, Shift.start < end, Shift.end > start
        )
    )
    if overlapping is not None:
        raise ShiftConflictError(f"'{username}' already has a shift on {day} at that time")
    shift = Shift(
        user_id=user.id,
        duty=duty,
        site_id=site_id,
        date=day,
        start=start,
        end=end,
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    db.add(shift)
    await db.flush()
    await record(
        db=db,
        actor=created_by,
        action="shift.add",
        target=f"user:{username}",
        detail={
            "shift_id": shift.id,
            "date": day.isoformat(),
            "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}",
            "site": site_id or "",
        },
    )
    return _entry(shift, user)


async def remove_shift(*, db: AsyncSession, shift_id: int, removed_by: str) -> bool:
    shift = await db.get(Shift, shift_id)
    if shift is None:
        return False
    user = await db.get(StaffUser, shift.user_id)
    await db.execute(delete(Shift).where(Shift.id == shift_id))
    await record(
        db=db,
        actor=removed_by,
        action="shift.remove",
        target=f"user:{user.username if user else shift.user_id}",
        detail={
            "shift_id": shift_id,
            "date": shift.date.isoformat(),
            "start": f"{shift.start:%H:%M}",
            "end": f"{shift.end:%H:%M}",
            "site": shift.site_id or "",
        },
    )
    return True


async def roster(
    *,
    db: AsyncSession,
    start: date,
    end: date,
    user_id: int | None = None,
    duty: str | None = None,
    site_id: str | None = None,
) -> list[RosterEntry]:
    """Shifts from `start` to `end` (both included) of active staff, by date and time."""
    query = (
        select(Shift, StaffUser)
        .join(StaffUser, StaffUser.id == Shift.user_id)
        .where(Shift.date >= start, Shift.date <= end, StaffUser.disabled.is_(False))
    )
    if user_id is not None:
        query = query.where(Shift.user_id == user_id)
    if duty is not None:
        query = query.where(Shift.duty == duty)
    if site_id is not None:
        query = query.where(Shift.site_id == site_id)
    rows = await db.execute(query.order_by(Shift.date, Shift.start, StaffUser.username))
    return [_entry(shift, user) for shift, user in rows]


async def windows_per_site(*, db: AsyncSession) -> Counter[str]:
    """Registered kiosks per site; a training kiosk is no window of the service."""
    rows = await db.execute(
        select(Kiosk.site_id, func.count()).where(Kiosk.training.is_(False)).group_by(Kiosk.site_id)
    )
    return Counter({site: count for site, count in rows})


def windows_of(counts: Counter[str], site_id: str) -> int:
    return counts.get(site_id) or DEFAULT_WINDOWS


# --- the forecast ------------------------------------------------------------------------------


async def forecast(
    *, db: AsyncSession, site_id: str, start: date, end: date, schedule_of: ScheduleOf
) -> Forecast:
    """Coverage of `site_id`'s opening minutes from `start` to `end` (both included);
    raises `UnknownSiteError` for a site without a schedule."""
    schedule = schedule_of(site_id)
    if schedule is None:
        raise UnknownSiteError(f"no schedule for site '{site_id}'")
    counts = await windows_per_site(db=db)
    windows_open: list[tuple[Interval, int]] = []
    site_closures = []
    for other in sorted(set(counts) | {site_id}):
        other_schedule = schedule if other == site_id else schedule_of(other)
        if other_schedule is None:
            continue
        recorded = await closures(db=db, site_id=other, start=start, end=end)
        if other == site_id:
            site_closures = recorded
        windows = windows_of(counts, other)
        windows_open += [
            (interval, windows)
            for interval in opening_intervals(other_schedule, start, end, recorded)
        ]
    margin = timedelta(days=1)  # a site in another zone may reach into the next date
    operators = await roster(db=db, start=start - margin, end=end + margin, duty="operator")
    support = await roster(db=db, start=start, end=end, duty="support", site_id=site_id)
    result = Forecast(site_id, start, end, windows_of(counts, site_id), schedule.zone, [])
    by_date: dict[date, DayCoverage] = {}
    for day in days(schedule, start, end, site_closures):
        coverage = DayCoverage(day)
        by_date[day.date] = coverage
        result.days.append(coverage)
    for entry in operators:
        if entry.date in by_date:
            by_date[entry.date].operators.append(entry)
    for entry in support:
        by_date[entry.date].support.append(entry)
    opening = opening_intervals(schedule, start, end, site_closures)
    duty = support_intervals(schedule, start, end, site_closures)
    found = operator_gaps(opening, [_interval(e) for e in operators], windows_open)
    found += support_gaps(duty, [_interval(e) for e in support])
    for gap in sorted(found, key=lambda g: (g.start, g.missing)):
        local = gap.start.astimezone(schedule.zone).date()
        by_date[local].gaps.append(gap)
    return result


# --- the live alert ----------------------------------------------------------------------------


async def coverage_conditions(
    *, db: AsyncSession, now: datetime, is_open: Callable[[str, datetime], bool]
) -> list[Condition]:
    """`coverage_gap` per open site short of staff right now: fewer operators on shift than
    the open sites' windows, or no support staff on shift outside the support break.
    Only once the roster is in use (any shift recorded): before that, nothing to compare."""
    if await db.scalar(select(Shift.id).limit(1)) is None:
        return []
    local = now.astimezone(ROSTER_ZONE)
    today = await roster(db=db, start=local.date(), end=local.date())
    on_shift = [e for e in today if e.start <= local.time() < e.end]
    operators = sum(1 for e in on_shift if e.duty == "operator")
    support = Counter(e.site_id for e in on_shift if e.duty == "support")
    counts = await windows_per_site(db=db)
    sites = sorted(set(counts) | {e.site_id for e in today if e.site_id})
    open_sites = [site for site in sites if is_open(site, now)]
    needed = sum(windows_of(counts, site) for site in open_sites)
    found = []
    for site in open_sites:
        missing = []
        if operators < needed:
            missing.append(f"勤務中のオペレータ {operators} 人（必要 {needed} 人）")
        if support[site] == 0 and not _in_support_break(is_open, site, now):
            missing.append("勤務中の支援員がいません")
        if missing:
            severity = "critical" if operators < needed else "warning"
            detail = "シフト不足: " + "、".join(missing)
            found.append(Condition(site, site, COVERAGE_GAP, severity, detail[:200]))
    return found


def _in_support_break(is_open: object, site_id: str, now: datetime) -> bool:
    schedule = is_open.schedule(site_id) if isinstance(is_open, OpeningHours) else None
    if schedule is None or schedule.support_break is None:
        return False
    moment = now.astimezone(schedule.zone).time()
    return schedule.support_break.start <= moment < schedule.support_break.end
