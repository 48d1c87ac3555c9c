"""What a site's calendar says about one date: open or not, hours, and why."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from cloud.calendar.schedule import WEEKDAYS, Hours, SiteSchedule


@dataclass(frozen=True, slots=True)
class Closure:
    """City hall closed all day, or from/until a time (e.g. a storm warning)."""

    date: date
    reason: str
    from_time: time | None = None
    until_time: time | None = None


@dataclass(frozen=True, slots=True)
class DaySchedule:
    date: date
    open: bool
    opens: time | None
    closes: time | None
    last_reception: time | None
    reason: str | None  # why closed, or what shortened the day
    gaps: tuple[tuple[time, time], ...] = ()  # closed stretches inside the opening hours

    def as_json(self) -> dict[str, object]:
        def hhmm(value: time | None) -> str | None:
            return value.strftime("%H:%M") if value else None

        return {
            "date": self.date.isoformat(),
            "open": self.open,
            "opens": hhmm(self.opens),
            "closes": hhmm(self.closes),
            "last_reception": hhmm(self.last_reception),
            "reason": self.reason,
        }


@lru_cache(maxsize=64)
def _national_holidays(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("JP", years=year, language="ja").items())


def national_holiday(day: date) -> str | None:
    """The holiday's Japanese name (振替休日 and 国民の休日 included), or None."""
    return _national_holidays(day.year).get(day)


def _in_year_end(site: SiteSchedule, day: date) -> bool:
    if site.year_end is None:
        return False
    key = day.strftime("%m-%d")
    first, last = site.year_end.first, site.year_end.last
    return first <= key or key <= last if first > last else first <= key <= last


def _is_special_open_day(site: SiteSchedule, day: date) -> bool:
    weekday = WEEKDAYS[day.weekday()]
    nth = (day.day - 1) // 7 + 1
    return any(rule.weekday == weekday and rule.nth == nth for rule in site.special_open_days)


def _closed(day: date, reason: str) -> DaySchedule:
    return DaySchedule(day, False, None, None, None, reason)


def _regular(site: SiteSchedule, day: date) -> tuple[Hours | None, str | None]:
    """Hours by the rules alone (no closures), or None and the reason it is closed."""
    weekday = WEEKDAYS[day.weekday()]
    if day in site.extra_closed_dates:
        return None, "extra_closed_date"
    if _in_year_end(site, day):
        return None, "year_end"
    if day in site.extra_open_dates:
        return site.weekly.get(weekday) or site.special_hours.get(weekday), None
    holiday = national_holiday(day) if site.closed_on_national_holidays else None
    if _is_special_open_day(site, day):
        if holiday and site.special_days_on_holidays == "closed":
            return None, f"national_holiday: {holiday}"
        return site.special_hours.get(weekday) or site.weekly.get(weekday), None
    if holiday:
        return None, f"national_holiday: {holiday}"
    hours = site.weekly.get(weekday)
    return (hours, None) if hours else (None, "not_an_opening_day")


def day_schedule(site: SiteSchedule, day: date, closures: Iterable[Closure] = ()) -> DaySchedule:
    hours, reason = _regular(site, day)
    if hours is None:
        return _closed(day, reason or "closed")
    opens, closes, last = hours.opens, hours.closes, hours.last_reception
    notes: list[str] = []
    gaps: list[tuple[time, time]] = []
    for closure in (c for c in closures if c.date == day):
        start = closure.from_time or time.min
        end = closure.until_time or time.max
        notes.append(f"closure: {closure.reason}")
        if start <= opens and end >= closes:
            return _closed(day, "; ".join(notes))
        if start <= opens:
            opens = max(opens, end)  # opens late
        elif end >= closes:
            closes = min(closes, start)  # closes early
        else:
            gaps.append((start, end))  # closed in the middle of the day
    if opens >= closes:
        return _closed(day, "; ".join(notes) or "closed")
    last = max(min(last, closes), opens)
    kept = tuple(
        sorted((max(a, opens), min(b, closes)) for a, b in gaps if a < closes and b > opens)
    )
    return DaySchedule(day, True, opens, closes, last, "; ".join(notes) or None, kept)


def days(
    site: SiteSchedule, start: date, end: date, closures: Iterable[Closure] = ()
) -> Iterator[DaySchedule]:
    known = list(closures)
    current = start
    while current <= end:
        yield day_schedule(site, current, known)
        current += timedelta(days=1)


def is_open(site: SiteSchedule, moment: datetime, closures: Iterable[Closure] = ()) -> bool:
    """Whether the windows are open at `moment` (an aware datetime)."""
    local = moment.astimezone(site.zone)
    today = day_schedule(site, local.date(), closures)
    if not (today.open and today.opens and today.closes):
        return False
    now = local.time()
    inside = today.opens <= now < today.closes
    return inside and not any(start <= now < end for start, end in today.gaps)
