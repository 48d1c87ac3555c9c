"""What a site's calendar says about one date: open or not, hours, and why.

Everything here is pure: the rules (`SiteSchedule`), the national holidays (the `holidays`
library) and the closures passed in decide the result; nothing is read from a database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from cloud.calendar.schedule import WEEKDAYS, Hours, SiteSchedule

# Machine-readable reason codes; the JSON `reason` is "code: 日本語の説明".
NATIONAL_HOLIDAY = "national_holiday"
YEAR_END = "year_end"
WEEKEND = "weekend"
NOT_AN_OPENING_DAY = "not_an_opening_day"
EXTRA_CLOSED_DATE = "extra_closed_date"
CLOSURE = "closure"
OUTSIDE_PERIOD = "outside_period"

_WEEKDAY_LABELS = ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日")


@dataclass(frozen=True, slots=True)
class Closure:
    """City hall closed all day, or from/until a time (e.g. a storm warning)."""

    date: date
    reason: str
    from_time: time | None = None
    until_time: time | None = None


TimeSpan = tuple[time, time]


@dataclass(frozen=True, slots=True)
class DaySchedule:
    date: date
    open: bool
    opens: time | None
    closes: time | None
    last_reception: time | None
    reason: str | None  # why closed, or what shortened the day; "code: label"
    gaps: tuple[TimeSpan, ...] = ()  # closed stretches inside the opening hours

    @property
    def reason_code(self) -> str | None:
        """The machine-readable part of `reason`, e.g. "national_holiday"."""
        return self.reason.split(":", 1)[0] if self.reason else None

    @property
    def spans(self) -> tuple[TimeSpan, ...]:
        """The opening hours as [start, end) stretches, gaps cut out."""
        if not (self.open and self.opens and self.closes):
            return ()
        result: list[TimeSpan] = []
        cursor = self.opens
        for start, end in sorted(self.gaps):
            if min(start, self.closes) > cursor:
                result.append((cursor, min(start, self.closes)))
            cursor = max(cursor, end)
        if cursor < self.closes:
            result.append((cursor, self.closes))
        return tuple(result)

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


def is_special_open_day(site: SiteSchedule, day: date) -> bool:
    """The nth weekday of its month that the site opens on (e.g. the 2nd Sunday)."""
    weekday = WEEKDAYS[day.weekday()]
    nth = (day.day - 1) // 7 + 1
    return any(rule.weekday == weekday and rule.nth == nth for rule in site.special_open_days)


def _closed(day: date, reason: str) -> DaySchedule:
    return DaySchedule(day, False, None, None, None, reason)


def _regular(site: SiteSchedule, day: date) -> tuple[Hours | None, str]:
    """Hours by the rules alone (no closures), or None and the reason it is closed.
    The order of the checks is the precedence documented on `SiteSchedule`."""
    weekday = WEEKDAYS[day.weekday()]
    if day in site.extra_closed_dates:
        return None, f"{EXTRA_CLOSED_DATE}: 臨時休業"
    if site.year_end is not None and day in site.year_end:
        return None, f"{YEAR_END}: {site.year_end.label()}"
    if site.periods:
        period = site.period_of(day)
        if period is None:
            return None, f"{OUTSIDE_PERIOD}: 開設期間外"
        if period.hours is not None:
            return period.hours, ""
    if day in site.extra_open_dates:
        return site.hours_for(weekday, special=False), ""
    holiday = national_holiday(day) if site.closed_on_national_holidays else None
    if is_special_open_day(site, day):
        if holiday and site.special_days_on_holidays == "closed":
            return None, f"{NATIONAL_HOLIDAY}: {holiday}"
        return site.hours_for(weekday, special=True), ""
    if holiday:
        return None, f"{NATIONAL_HOLIDAY}: {holiday}"
    hours = site.weekly.get(weekday)
    if hours is not None:
        return hours, ""
    code = WEEKEND if day.weekday() >= 5 else NOT_AN_OPENING_DAY
    return None, f"{code}: {_WEEKDAY_LABELS[day.weekday()]}"


def _minus(value: time, other: time) -> timedelta:
    return datetime.combine(date.min, value) - datetime.combine(date.min, other)


def day_schedule(site: SiteSchedule, day: date, closures: Iterable[Closure] = ()) -> DaySchedule:
    """The schedule of one date; closures of other dates are ignored."""
    hours, reason = _regular(site, day)
    if hours is None:
        return _closed(day, reason or NOT_AN_OPENING_DAY)
    opens, closes = hours.opens, hours.closes
    notes: list[str] = []
    gaps: list[TimeSpan] = []
    for closure in (c for c in closures if c.date == day):
        start = closure.from_time or time.min
        end = closure.until_time or time.max
        notes.append(f"{CLOSURE}: {closure.reason}")
        if start <= opens and end >= closes:
            return _closed(day, "; ".join(notes))
        if start <= opens:
            opens = max(opens, end)  # opens late
        elif end >= closes:
            closes = min(closes, start)  # closes early
        else:
            gaps.append((start, end))  # closed in the middle of the day
    if opens >= closes:
        return _closed(day, "; ".join(notes))
    # Closing early keeps the rules' margin (15 minutes for city hall): a resident received
    # at the new closing time could not be served.
    margin = _minus(hours.closes, hours.last_reception)
    last = min(hours.last_reception, (datetime.combine(day, closes) - margin).time())
    last = max(last, opens)
    kept = tuple(
        sorted((max(a, opens), min(b, closes)) for a, b in gaps if a < closes and b > opens)
    )
    return DaySchedule(day, True, opens, closes, last, "; ".join(notes) or None, kept)


def days(
    site: SiteSchedule, start: date, end: date, closures: Iterable[Closure] = ()
) -> Iterator[DaySchedule]:
    """Every date from `start` to `end`, both included."""
    by_date: defaultdict[date, list[Closure]] = defaultdict(list)
    for closure in closures:
        by_date[closure.date].append(closure)
    current = start
    while current <= end:
        yield day_schedule(site, current, by_date.get(current, ()))
        current += timedelta(days=1)


def is_open(site: SiteSchedule, moment: datetime, closures: Iterable[Closure] = ()) -> bool:
    """Whether the windows are open at `moment` (an aware datetime)."""
    local = moment.astimezone(site.zone)
    now = local.time()
    today = day_schedule(site, local.date(), closures)
    return any(start <= now < end for start, end in today.spans)
