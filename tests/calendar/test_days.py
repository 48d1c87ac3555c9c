"""The city-hall calendar against the specification, on real dates."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml

from cloud.calendar.days import Closure, day_schedule, days, is_open, national_holiday
from cloud.calendar.schedule import BUILTIN_SITES, SiteSchedule, load_site

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


def test_weekday_hours_follow_the_specification() -> None:
    assert hours(date(2026, 11, 24)) == ("08:30", "17:15", "17:00")  # Tuesday
    assert hours(date(2026, 11, 25)) == ("08:30", "20:00", "19:45")  # Wednesday
    assert hours(date(2026, 11, 27)) == ("08:30", "17:15", "17:00")  # Friday


def test_second_sunday_and_third_saturday_open_other_weekends_closed() -> None:
    assert hours(date(2026, 11, 8)) == ("09:00", "16:00", "15:45")  # 2nd Sunday
    assert hours(date(2026, 11, 21)) == ("09:00", "16:00", "15:45")  # 3rd Saturday
    assert hours(date(2026, 11, 14)) is None  # 2nd Saturday
    assert hours(date(2026, 11, 15)) is None  # 3rd Sunday
    assert day_schedule(SITE, date(2026, 11, 1)).reason == "not_an_opening_day"


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


def test_year_end_break_closes_29_december_to_3_january() -> None:
    result = {d.date: d for d in days(SITE, date(2026, 12, 28), date(2027, 1, 4))}
    assert result[date(2026, 12, 28)].open
    closed = [d for d in result if not result[d].open]
    assert closed == [date(2026, 12, 29) + timedelta(days=i) for i in range(6)]
    assert all(result[d].reason in {"year_end"} for d in closed)
    assert result[date(2027, 1, 4)].open


def _special_day_on_holiday() -> date:
    """A 2nd Sunday or 3rd Saturday that is a national holiday, found with the library."""
    day = date(2026, 1, 1)
    while day.year < 2036:
        nth = (day.day - 1) // 7 + 1
        special = (day.weekday() == 6 and nth == 2) or (day.weekday() == 5 and nth == 3)
        if special and national_holiday(day):
            return day
        day += timedelta(days=1)
    raise AssertionError("no such day in ten years")


def test_conflict_policy_for_special_days_on_holidays_is_configurable() -> None:
    day = _special_day_on_holiday()
    assert not day_schedule(SITE, day).open  # default: closed
    data = yaml.safe_load((BUILTIN_SITES / "city-hall.yaml").read_text())
    lenient = SiteSchedule.model_validate({**data, "special_days_on_holidays": "open"})
    assert day_schedule(lenient, day).open
    # The year-end break wins whatever the policy: 2027-01-03 is a Sunday in the break.
    assert not day_schedule(lenient, date(2027, 1, 3)).open


def test_closures_shorten_or_cancel_a_day() -> None:
    day = date(2026, 11, 25)
    storm = day_schedule(SITE, day, [Closure(day, "暴風警報")])
    assert not storm.open and storm.reason == "closure: 暴風警報"
    early = day_schedule(SITE, day, [Closure(day, "暴風警報", from_time=time(15, 0))])
    assert (early.closes, early.last_reception) == (time(15, 0), time(15, 0))
    late = day_schedule(SITE, day, [Closure(day, "警報解除待ち", until_time=time(13, 0))])
    assert (late.opens, late.closes) == (time(13, 0), time(20, 0))
    gap = day_schedule(SITE, day, [Closure(day, "停電", time(12, 0), time(14, 0))])
    assert gap.open and gap.gaps == ((time(12, 0), time(14, 0)),)
    tokyo = SITE.zone
    at = datetime(2026, 11, 25, 12, 30, tzinfo=tokyo)
    assert not is_open(SITE, at, [Closure(day, "停電", time(12, 0), time(14, 0))])
    assert is_open(SITE, at)
    assert is_open(SITE, datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 12:00 in Tokyo
    assert not is_open(SITE, datetime(2026, 11, 25, 11, 5, tzinfo=UTC))  # 20:05 in Tokyo


def test_cli_prints_the_documented_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "madoguchi",
            "calendar",
            "days",
            "--site",
            "city-hall",
            "--from",
            "2026-11-21",
            "--to",
            "2026-11-23",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(result.stdout)
    assert [set(r) for r in rows] == [
        {"date", "open", "opens", "closes", "last_reception", "reason"}
    ] * 3
    assert rows[0] == {
        "date": "2026-11-21",
        "open": True,
        "opens": "09:00",
        "closes": "16:00",
        "last_reception": "15:45",
        "reason": None,
    }
    assert rows[2]["open"] is False and rows[2]["reason"] == "national_holiday: 勤労感謝の日"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nowhere", "--from", "2026-01-01", "--to", "2026-01-02"], "no schedule"),
        (["--site", "city-hall", "--from", "2026-02-01", "--to", "2026-01-01"], "after"),
        (["--site", "city-hall", "--from", "2026-13-01", "--to", "2027-01-01"], "YYYY-MM-DD"),
        (["--site", "city-hall", "--from", "2020-01-01", "--to", "2026-01-01"], "at most"),
    ],
)
def test_cli_refuses_bad_input_clearly(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "calendar", "days", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_popup_site_brings_its_own_schedule(tmp_path: Path) -> None:
    (tmp_path / "popup-mall.yaml").write_text(
        yaml.safe_dump(
            {
                "site_id": "popup-mall",
                "name": "出張申請（商業施設）",
                "weekly": {"sat": {"opens": "10:00", "closes": "15:00", "last_reception": "14:30"}},
                "closed_on_national_holidays": False,
            }
        )
    )
    site = load_site("popup-mall", sites_dir=tmp_path)
    assert day_schedule(site, date(2026, 11, 28)).open  # a Saturday
    assert not day_schedule(site, date(2026, 11, 27)).open
    with pytest.raises(ValueError, match="last_reception"):
        SiteSchedule.model_validate(
            {
                "site_id": "bad",
                "name": "x",
                "weekly": {"mon": {"opens": "10:00", "closes": "09:00", "last_reception": "09:30"}},
            }
        )


def test_opening_hours_lookup_for_alerts(tmp_path: Path) -> None:
    from cloud.calendar.lookup import OpeningHours

    lookup = OpeningHours(sites_dir=tmp_path)
    holiday_noon = datetime(2026, 11, 23, 12, 0, tzinfo=SITE.zone)
    workday_noon = datetime(2026, 11, 24, 12, 0, tzinfo=SITE.zone)
    assert not lookup("city-hall", holiday_noon)
    assert lookup("city-hall", workday_noon)
    assert lookup("unknown-site", holiday_noon)  # no schedule: alert rather than stay silent
    lookup.closures = [Closure(date(2026, 11, 24), "暴風警報")]
    assert not lookup("city-hall", workday_noon)


def test_cli_records_a_closure_that_days_then_applies(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "MADOGUCHI_CLOUD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "madoguchi", "calendar", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    recorded = cli(
        "close",
        "--site",
        "city-hall",
        "--date",
        "2026-11-26",
        "--reason",
        "台風接近",
        "--by",
        "city-a",
    )
    assert recorded.returncode == 0, recorded.stderr
    listed = json.loads(
        cli(
            "days", "--site", "city-hall", "--from", "2026-11-26", "--to", "2026-11-26", "--json"
        ).stdout
    )
    assert listed == [
        {
            "date": "2026-11-26",
            "open": False,
            "opens": None,
            "closes": None,
            "last_reception": None,
            "reason": "closure: 台風接近",
        }
    ]
    rules_only = json.loads(
        cli(
            "days",
            "--site",
            "city-hall",
            "--from",
            "2026-11-26",
            "--to",
            "2026-11-26",
            "--json",
            "--no-with-closures",
        ).stdout
    )
    assert rules_only[0]["open"] is True
    refused = cli("close", "--site", "city-hall", "--date", "2026-11-26", "--reason", " ")
    assert refused.returncode == 2 and "reason" in refused.stderr
