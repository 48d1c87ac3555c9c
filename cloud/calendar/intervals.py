"""Opening hours as aware datetime intervals, for uptime, staffing and billing.

Intervals are half-open [start, end), in the site's time zone, sorted and disjoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cloud.calendar.days import Closure, DaySchedule, TimeSpan, days
from cloud.calendar.schedule import SiteSchedule

Interval = tuple[datetime, datetime]


def _aware(site: SiteSchedule, schedules: Iterable[DaySchedule]) -> list[Interval]:
    zone = site.zone
    return [
        (datetime.combine(day.date, start, zone), datetime.combine(day.date, end, zone))
        for day in schedules
        for start, end in day.spans
    ]


def opening_intervals(
    site: SiteSchedule, start: date, end: date, closures: Iterable[Closure] = ()
) -> list[Interval]:
    """When the windows are open from `start` to `end` (both included), closures applied."""
    return _aware(site, days(site, start, end, closures))


def support_intervals(
    site: SiteSchedule, start: date, end: date, closures: Iterable[Closure] = ()
) -> list[Interval]:
    """When the on-site support staff are on duty: the opening hours minus their break."""
    if site.support_break is None:
        return opening_intervals(site, start, end, closures)
    lunch = (site.support_break.start, site.support_break.end)
    return _aware(
        site,
        (
            _without(day, lunch)
            for day in days(site, start, end, closures)
            if day.open  # a closed day has no spans to cut
        ),
    )


def _without(day: DaySchedule, cut: TimeSpan) -> DaySchedule:
    """`day` with one more gap; `spans` merges overlapping gaps."""
    gaps = tuple(sorted((*day.gaps, cut)))
    return DaySchedule(
        day.date, day.open, day.opens, day.closes, day.last_reception, day.reason, gaps
    )


def minutes(intervals: Iterable[Interval]) -> int:
    """Whole minutes covered (opening hours are on minute boundaries)."""
    return sum(int((b - a).total_seconds()) for a, b in intervals) // 60


def scheduled_minutes(
    site: SiteSchedule, start: date, end: date, closures: Iterable[Closure] = ()
) -> int:
    """Minutes the windows are scheduled to be open, closures applied."""
    return minutes(opening_intervals(site, start, end, closures))
