"""The city-hall calendar against the specification, on real dates."""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from cloud.calendar.days import day_schedule, days, is_open, national_holiday
from cloud.calendar.schedule import BUILTIN_SITES, SiteSchedule, load_site, schedule_mapping

SITE = load_site("city-hall")


def hours(day: date) -> tuple[str, str, str] | None:
    schedule = day_schedule(SITE, day)
    if not schedule.open:
        return None
    assert schedule.opens and schedule.closes and schedule.last_reception
    return (
        schedule.opens.strftime("%H:%M"),
        schedule.closes.strftime("%H:%M"),
        schedule.last_reception.strftime("%H:%M"),
    )


def site_with(**changes: object) -> SiteSchedule:
    data = schedule_mapping(BUILTIN_SITES / "city-hall.yaml")
    return SiteSchedule.model_validate({**data, **changes})


def test_weekday_hours_follow_the_specification() -> None:
    assert hours(date(2026, 11, 24)) == ("08:30", "17:15", "17:00")  # Tuesday
    assert hours(date(2026, 11, 25)) == ("08:30", "20:00", "19:45")  # Wednesday
    assert hours(date(2026, 11, 26)) == ("08:30", "17:15", "17:00")  # Thursday
    assert hours(date(2026, 11, 27)) == ("08:30", "17:15", "17:00")  # Friday
    assert hours(date(2026, 11, 30)) == ("08:30", "17:15", "17:00")  # Monday


def test_second_sunday_and_third_saturday_open_other_weekends_closed() -> None:
    assert hours(date(2026, 11, 8)) == ("09:00", "16:00", "15:45")  # 2nd Sunday
    assert hours(date(2026, 11, 21)) == ("09:00", "16:00", "15:45")  # 3rd Saturday
    assert hours(date(2026, 11, 14)) is None  # 2nd Saturday
    assert hours(date(2026, 11, 15)) is None  # 3rd Sunday
    sunday = day_schedule(SITE, date(2026, 11, 1))
    assert (sunday.reason, sunday.reason_code) == ("weekend: 日曜日", "weekend")
    assert day_schedule(SITE, date(2026, 11, 8)).reason is None


def test_national_holidays_close_including_substitute_and_citizens_holidays() -> None:
    for day, name in (
        (date(2026, 11, 23), "勤労感謝の日"),
        (date(2026, 11, 3), "文化の日"),
        (date(2026, 5, 6), "振替休日"),
        (date(2026, 9, 22), "国民の休日"),
    ):
        assert national_holiday(day) == name  # the library, not a hand-typed list
        schedule = day_schedule(SITE, day)
        assert not schedule.open and schedule.reason == f"national_holiday: {name}"
        assert schedule.reason_code == "national_holiday"


def test_year_end_break_closes_29_december_to_3_january() -> None:
    result = {d.date: d for d in days(SITE, date(2026, 12, 28), date(2027, 1, 4))}
    assert result[date(2026, 12, 28)].open
    closed = [d for d in result if not result[d].open]
    assert closed == [date(2026, 12, 29) + timedelta(days=i) for i in range(6)]
    # 2027-01-01 is also a national holiday: the year-end break is the reason given.
    assert {result[d].reason for d in closed} == {"year_end: 年末年始（12月29日〜1月3日）"}
    assert hours(date(2027, 1, 4)) == ("08:30", "17:15", "17:00")


def _special_days_on_holidays() -> list[date]:
    """2nd Sundays and 3rd Saturdays that are national holidays, found with the library."""
    found = []
    day = date(2025, 1, 1)
    while day.year < 2036:
        nth = (day.day - 1) // 7 + 1
        special = (day.weekday() == 6 and nth == 2) or (day.weekday() == 5 and nth == 3)
        if special and national_holiday(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def test_conflict_policy_for_special_days_on_holidays_is_configurable() -> None:
    conflicts = _special_days_on_holidays()
    # 建国記念の日 on the 2nd Sunday of February 2029 (checked in the library above).
    assert date(2029, 2, 11) in conflicts
    for day in conflicts:
        closed = day_schedule(SITE, day)  # the shipped default
        assert not closed.open and closed.reason == f"national_holiday: {national_holiday(day)}"
        assert day_schedule(site_with(special_days_on_holidays="open"), day).open
    # A holiday that is not a special day stays closed under either policy.
    assert not day_schedule(site_with(special_days_on_holidays="open"), date(2026, 11, 23)).open


def test_year_end_break_wins_over_special_days_under_either_policy() -> None:
    # A 2nd Sunday or 3rd Saturday never falls in 29 Dec - 3 Jan, so the conflict is shown
    # with a site that also opens on the 1st Sunday: 2027-01-03 is one, and in the break.
    assert date(2027, 1, 3).weekday() == 6
    for policy in ("closed", "open"):
        site = site_with(
            special_open_days=[{"weekday": "sun", "nth": 1}],
            special_days_on_holidays=policy,
        )
        assert day_schedule(site, date(2026, 11, 1)).open  # an ordinary 1st Sunday
        assert day_schedule(site, date(2027, 1, 3)).reason_code == "year_end"


def test_one_off_dates_open_or_close_a_day() -> None:
    site = site_with(
        extra_open_dates=[date(2026, 11, 14)],  # a 2nd Saturday
        extra_closed_dates=[date(2026, 11, 25), date(2026, 11, 21)],  # Wed, 3rd Saturday
    )
    opened = day_schedule(site, date(2026, 11, 14))
    assert (opened.opens, opened.closes) == (
        SITE.special_hours["sat"].opens,
        SITE.special_hours["sat"].closes,
    )
    for day in (date(2026, 11, 25), date(2026, 11, 21)):
        closed = day_schedule(site, day)
        assert not closed.open and closed.reason == "extra_closed_date: 臨時休業"


def _oracle_opening_days(year: int, month: int) -> int:
    """The specification's rule for one month, computed another way (calendar module)."""
    weeks = calendar.Calendar().monthdatescalendar(year, month)
    in_month = [d for week in weeks for d in week if d.month == month]
    sundays = [d for d in in_month if d.weekday() == 6]
    saturdays = [d for d in in_month if d.weekday() == 5]
    special = {sundays[1], saturdays[2]}
    count = 0
    for day in in_month:
        year_end = (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)
        if year_end or national_holiday(day):
            continue
        if day.weekday() < 5 or day in special:
            count += 1
    return count


def test_fy2025_contract_period_day_by_day() -> None:
    counted = Counter(
        d.date.strftime("%Y-%m") for d in days(SITE, date(2025, 7, 1), date(2026, 3, 31)) if d.open
    )
    months = [(2025, m) for m in range(7, 13)] + [(2026, m) for m in range(1, 4)]
    assert counted == {f"{y}-{m:02d}": _oracle_opening_days(y, m) for y, m in months}
    # Checked by hand against a printed calendar: July 2025 has 23 weekdays, 海の日 on
    # 21 July, opens Sunday 13 and Saturday 19; November 2025 loses 文化の日 (3rd) and the
    # 振替休日 (24th) and gains Sunday 9 and Saturday 15.
    assert counted["2025-07"] == 24
    assert counted["2025-11"] == 20
    assert sum(counted.values()) == 198


def test_is_open_uses_tokyo_time_whatever_the_zone_of_the_moment() -> None:
    assert SITE.timezone == "Asia/Tokyo"
    assert is_open(SITE, datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 12:00 in Tokyo
    assert not is_open(SITE, datetime(2026, 11, 25, 11, 5, tzinfo=UTC))  # 20:05 in Tokyo
    assert not is_open(SITE, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # 08:00 in Tokyo
    assert is_open(SITE, datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 08:30 in Tokyo
