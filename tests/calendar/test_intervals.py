"""Opening hours as aware intervals, the input of uptime, staffing and billing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from cloud.calendar.days import Closure
from cloud.calendar.intervals import (
    minutes,
    opening_intervals,
    scheduled_minutes,
    support_intervals,
)
from cloud.calendar.schedule import BUILTIN_SITES, SiteSchedule, load_site, schedule_mapping

SITE = load_site("city-hall")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SITE.zone)


def test_intervals_are_aware_tokyo_times_for_open_days_only() -> None:
    saturday, sunday = date(2026, 11, 21), date(2026, 11, 22)  # 3rd Saturday; a closed Sunday
    monday = date(2026, 11, 23)  # 勤労感謝の日
    tuesday = date(2026, 11, 24)
    result = opening_intervals(SITE, saturday, tuesday)
    assert result == [
        (at(saturday, 9), at(saturday, 16)),
        (at(tuesday, 8, 30), at(tuesday, 17, 15)),
    ]
    assert all(start.utcoffset() == timedelta(hours=9) for start, _ in result)
    assert sunday not in {start.date() for start, _ in result}
    assert monday not in {start.date() for start, _ in result}


def test_closures_shorten_the_intervals() -> None:
    wednesday = date(2026, 11, 25)
    outage = [Closure(wednesday, "停電", time(12), time(14))]
    assert opening_intervals(SITE, wednesday, wednesday, outage) == [
        (at(wednesday, 8, 30), at(wednesday, 12)),
        (at(wednesday, 14), at(wednesday, 20)),
    ]
    assert scheduled_minutes(SITE, wednesday, wednesday) == 690
    assert scheduled_minutes(SITE, wednesday, wednesday, outage) == 690 - 120


def test_scheduled_minutes_of_a_month() -> None:
    # July 2025: 5 Wednesdays (690 min), 17 other open weekdays (525), 2 weekend days (420).
    assert scheduled_minutes(SITE, date(2025, 7, 1), date(2025, 7, 31)) == (
        5 * 690 + 17 * 525 + 2 * 420
    )


def test_support_staff_are_off_duty_for_lunch() -> None:
    tuesday = date(2026, 11, 24)
    assert support_intervals(SITE, tuesday, tuesday) == [
        (at(tuesday, 8, 30), at(tuesday, 12)),
        (at(tuesday, 13), at(tuesday, 17, 15)),
    ]
    # Closed from 11:00: the break lies after closing and must not stretch the day.
    storm = [Closure(tuesday, "暴風警報", from_time=time(11))]
    assert support_intervals(SITE, tuesday, tuesday, storm) == [
        (at(tuesday, 8, 30), at(tuesday, 11))
    ]
    # A power cut overlapping the break: one gap 11:30-13:00.
    cut = [Closure(tuesday, "停電", time(11, 30), time(12, 30))]
    assert minutes(support_intervals(SITE, tuesday, tuesday, cut)) == 525 - 90
    assert support_intervals(SITE, date(2026, 11, 23), date(2026, 11, 23)) == []


def test_a_site_without_a_support_break() -> None:
    data = schedule_mapping(BUILTIN_SITES / "city-hall.yaml")
    site = SiteSchedule.model_validate({**data, "support_break": None})
    tuesday = date(2026, 11, 24)
    assert support_intervals(site, tuesday, tuesday) == opening_intervals(site, tuesday, tuesday)
