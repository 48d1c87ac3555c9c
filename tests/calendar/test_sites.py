"""Site schedules are data: the shipped city hall, pop-up sites, and refused mistakes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.calendar.days import day_schedule, national_holiday
from cloud.calendar.schedule import (
    BUILTIN_SITES,
    InvalidSiteError,
    SiteSchedule,
    UnknownSiteError,
    load_site,
    schedule_mapping,
)

POPUP: dict[str, Any] = {
    "site_id": "popup-mall",
    "name": "出張申請（商業施設）",
    "weekly": {"sat": {"opens": "10:00", "closes": "15:00", "last_reception": "14:30"}},
    "closed_on_national_holidays": False,
}


def city_hall(**changes: object) -> dict[str, Any]:
    data = schedule_mapping(BUILTIN_SITES / "city-hall.yaml")
    return {**data, **changes}


def test_city_hall_ships_the_specifications_rules() -> None:
    site = load_site("city-hall")
    assert site.timezone == "Asia/Tokyo"
    assert site.special_days_on_holidays == "closed"
    assert site.support_break is not None
    assert (site.support_break.start.hour, site.support_break.end.hour) == (12, 13)
    assert [(r.weekday, r.nth) for r in site.special_open_days] == [("sun", 2), ("sat", 3)]


def test_a_popup_site_brings_its_own_schedule(tmp_path: Path) -> None:
    (tmp_path / "popup-mall.yaml").write_text(yaml.safe_dump(POPUP), encoding="utf-8")
    site = load_site("popup-mall", sites_dir=tmp_path)
    assert day_schedule(site, date(2026, 11, 28)).open  # a Saturday
    friday = day_schedule(site, date(2026, 11, 27))
    assert not friday.open and friday.reason == "not_an_opening_day: 金曜日"
    # Holidays do not close it (closed_on_national_holidays: false).
    saturday_holiday = next(
        day
        for day in (date(2026, 1, 3) + timedelta(weeks=n) for n in range(520))
        if national_holiday(day) and (day.month, day.day) > (1, 3)  # not in the year-end
    )
    assert day_schedule(site, saturday_holiday).open
    city = day_schedule(load_site("city-hall"), saturday_holiday)
    assert not city.open and city.reason_code in {"national_holiday", "weekend"}
    assert load_site("city-hall", sites_dir=tmp_path).site_id == "city-hall"  # built-in


def test_the_sites_dir_overrides_the_built_in_file(tmp_path: Path) -> None:
    (tmp_path / "city-hall.yaml").write_text(
        yaml.safe_dump(city_hall(special_days_on_holidays="open")), encoding="utf-8"
    )
    assert load_site("city-hall", sites_dir=tmp_path).special_days_on_holidays == "open"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"weekly": {"mon": {"opens": "10:00", "closes": "09:00", "last_reception": "09:30"}}},
            "opens < last_reception <= closes",
        ),
        ({"year_end": {"first": "12-32", "last": "01-03"}}, "'12-32' is not a month and day"),
        ({"timezone": "Asia/Naha"}, "unknown time zone 'Asia/Naha'"),
        ({"special_days_on_holidays": "maybe"}, "special_days_on_holidays"),
        ({"extra_open_dates": [date(2026, 12, 30)]}, "in the year-end break"),
        (
            {"extra_open_dates": [date(2026, 11, 14)], "extra_closed_dates": [date(2026, 11, 14)]},
            "both in extra_open_dates and extra_closed_dates",
        ),
        ({"special_open_days": [{"weekday": "sun", "nth": 6}]}, "nth"),
        ({"unknown_rule": True}, "unknown_rule"),
    ],
)
def test_mistakes_in_a_schedule_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    (tmp_path / "city-hall.yaml").write_text(yaml.safe_dump(city_hall(**changes)), "utf-8")
    with pytest.raises(InvalidSiteError) as refused:
        load_site("city-hall", sites_dir=tmp_path)
    assert message in str(refused.value) and "city-hall.yaml" in str(refused.value)


def test_an_extra_open_date_needs_hours_for_its_weekday() -> None:
    with pytest.raises(ValueError, match="no hours for its weekday"):
        SiteSchedule.model_validate({**POPUP, "extra_open_dates": [date(2026, 11, 24)]})


def test_unknown_sites_and_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownSiteError, match="no schedule for site 'nowhere'"):
        load_site("nowhere", sites_dir=tmp_path)
    with pytest.raises(UnknownSiteError, match="not a valid site id"):
        load_site("../city-hall", sites_dir=tmp_path)
    (tmp_path / "popup-a.yaml").write_text(yaml.safe_dump(POPUP), encoding="utf-8")
    with pytest.raises(InvalidSiteError, match="expected 'popup-a'"):
        load_site("popup-a", sites_dir=tmp_path)
    (tmp_path / "popup-b.yaml").write_text("weekly: [", encoding="utf-8")
    with pytest.raises(InvalidSiteError, match="not valid YAML"):
        load_site("popup-b", sites_dir=tmp_path)
