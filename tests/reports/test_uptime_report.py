"""Uptime against opening hours, computed from state changes and the calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from cloud.calendar.days import Closure
from cloud.calendar.schedule import load_site
from cloud.reports.intervals import intersect, minutes, normalise, subtract
from cloud.reports.uptime import StateChange, site_uptime

SITE = load_site("city-hall")
WEDNESDAY = date(2026, 11, 18)  # 08:30-20:00


def at(hour: int, minute: int = 0, day: date = WEDNESDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), SITE.zone)


def test_interval_operations() -> None:
    a = [(at(8), at(12)), (at(13), at(17))]
    assert normalise([(at(9), at(10)), (at(8), at(9, 30)), (at(11), at(11))]) == [(at(8), at(10))]
    assert intersect(a, [(at(11), at(14))]) == [(at(11), at(12)), (at(13), at(14))]
    assert subtract(a, [(at(11), at(14))]) == [(at(8), at(11)), (at(14), at(17))]
    assert minutes(a) == 480


def test_outage_in_opening_hours_is_counted_with_its_cause() -> None:
    changes = {
        "city-hall-01": [
            StateChange(at(7, 50), "online", "birth"),
            StateChange(at(12), "offline", "will"),
            StateChange(at(12, 30), "online", "birth"),
        ],
        "city-hall-02": [StateChange(at(9), "online", "birth")],  # late start
    }
    report = site_uptime(SITE, WEDNESDAY, WEDNESDAY, changes, now=at(23))
    assert report.scheduled_minutes == 690
    one, two = report.windows
    assert (one.scheduled_minutes, one.serviceable_minutes) == (690, 660)
    assert [(o.start, o.end, o.cause) for o in one.outages] == [
        (at(12), at(12, 30), "接続断（端末の応答なし）")
    ]
    assert two.serviceable_minutes == 660
    assert [(o.start, o.end, o.cause) for o in two.outages] == [
        (at(8, 30), at(9), "記録なし（未接続）")
    ]
    assert report.ratio == pytest.approx(1320 / 1380)


def test_only_opening_hours_count_and_closures_shorten_them() -> None:
    thursday = WEDNESDAY + timedelta(days=1)
    changes = {
        "city-hall-01": [
            StateChange(at(20, 30), "offline", "goodbye"),  # stopped after closing: no outage
            StateChange(at(7, 0, thursday), "online", "birth"),
        ]
    }
    # It was online before the period: the caller passes the last change before it.
    changes["city-hall-01"].insert(0, StateChange(at(6), "online", "birth"))
    storm = [Closure(thursday, "暴風警報", from_time=time(15, 0))]
    report = site_uptime(
        SITE, WEDNESDAY, thursday, changes, closures=storm, now=at(23, 0, thursday)
    )
    window = report.windows[0]
    assert window.scheduled_minutes == 690 + (15 * 60 - 8 * 60 - 30)  # Thu closes at 15:00
    assert window.serviceable_minutes == window.scheduled_minutes
    assert window.outages == ()


def test_report_stops_at_now() -> None:
    changes = {"city-hall-01": [StateChange(at(8), "online", "birth")]}
    report = site_uptime(SITE, WEDNESDAY, WEDNESDAY, changes, now=at(10))
    assert report.scheduled_minutes == 90
    assert report.windows[0].ratio == 1.0


def test_no_operator_reachable_is_not_serviceable() -> None:
    changes = {"city-hall-01": [StateChange(at(7), "online", "birth")]}
    gap = [(at(12), at(12, 30)), (at(21), at(22))]  # the second is after closing: no effect
    report = site_uptime(SITE, WEDNESDAY, WEDNESDAY, changes, now=at(23), no_operator=gap)
    [window] = report.windows
    assert (window.scheduled_minutes, window.serviceable_minutes) == (690, 660)
    assert [(o.start, o.end, o.cause) for o in window.outages] == [
        (at(12), at(12, 30), "オペレーター不在")
    ]


def test_storm_closures_all_day_and_opening_late_shape_the_scheduled_time() -> None:
    thursday = WEDNESDAY + timedelta(days=1)
    friday = WEDNESDAY + timedelta(days=2)
    changes = {
        "city-hall-01": [
            StateChange(at(6), "online", "birth"),
            StateChange(at(9, 0, friday), "offline", "will"),  # down before the late opening
            StateChange(at(9, 50, friday), "online", "birth"),
        ]
    }
    storms = [
        Closure(thursday, "暴風警報"),  # closed all day
        Closure(friday, "暴風警報", until_time=time(10, 0)),  # opened late
    ]
    report = site_uptime(SITE, thursday, friday, changes, closures=storms, now=at(23, 0, friday))
    [window] = report.windows
    assert window.scheduled_minutes == 17 * 60 + 15 - 10 * 60  # Friday 10:00-17:15 only
    assert window.serviceable_minutes == window.scheduled_minutes
    assert window.outages == ()  # the outage ended before the day opened


def test_a_broken_card_reader_makes_the_window_unserviceable() -> None:
    from cloud.reports.uptime import PeripheralChange

    changes = {"city-hall-01": [StateChange(at(7), "online", "birth")]}
    broken = {
        "city-hall-01": [
            PeripheralChange(at(10), "card_reader", working=False),
            PeripheralChange(at(10, 45), "card_reader", working=True),
            PeripheralChange(at(11), "document_scanner", working=False),  # not critical
            PeripheralChange(at(19, 30), "headset", working=False),  # broken until closing
        ]
    }
    report = site_uptime(SITE, WEDNESDAY, WEDNESDAY, changes, now=at(23), peripherals=broken)
    [window] = report.windows
    assert window.serviceable_minutes == 690 - 45 - 30
    assert [(o.start, o.end, o.cause) for o in window.outages] == [
        (at(10), at(10, 45), "周辺機器の故障（カードリーダー）"),
        (at(19, 30), at(20), "周辺機器の故障（ヘッドセット）"),
    ]
