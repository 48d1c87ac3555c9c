"""Closures cancel, shorten or cut a gap into a day; bad ones are refused before recording."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from cloud.calendar.closures import ClosureError, check_closure
from cloud.calendar.days import Closure, day_schedule, days, is_open
from cloud.calendar.schedule import load_site

SITE = load_site("city-hall")
WEDNESDAY = date(2026, 11, 25)  # 08:30-20:00, last reception 19:45


def test_whole_day_closure_closes_the_day() -> None:
    storm = day_schedule(SITE, WEDNESDAY, [Closure(WEDNESDAY, "暴風警報")])
    assert not storm.open and storm.reason == "closure: 暴風警報"
    assert storm.reason_code == "closure"
    assert (storm.opens, storm.closes, storm.last_reception) == (None, None, None)


def test_closure_from_a_time_closes_early_keeping_the_reception_margin() -> None:
    early = day_schedule(SITE, WEDNESDAY, [Closure(WEDNESDAY, "暴風警報", from_time=time(15))])
    assert early.open and early.reason == "closure: 暴風警報"
    assert (early.opens, early.closes, early.last_reception) == (
        time(8, 30),
        time(15),
        time(14, 45),
    )


def test_closure_until_a_time_opens_late() -> None:
    late = day_schedule(SITE, WEDNESDAY, [Closure(WEDNESDAY, "警報解除待ち", until_time=time(13))])
    assert (late.opens, late.closes, late.last_reception) == (time(13), time(20), time(19, 45))


def test_closure_from_and_until_cuts_a_gap() -> None:
    outage = [Closure(WEDNESDAY, "停電", time(12), time(14))]
    gap = day_schedule(SITE, WEDNESDAY, outage)
    assert gap.open and gap.gaps == ((time(12), time(14)),)
    assert gap.spans == ((time(8, 30), time(12)), (time(14), time(20)))
    noon = datetime.combine(WEDNESDAY, time(12, 30), SITE.zone)
    assert not is_open(SITE, noon, outage)
    assert is_open(SITE, noon)


def test_several_closures_on_one_day_combine() -> None:
    both = [
        Closure(WEDNESDAY, "停電", time(12), time(13)),
        Closure(WEDNESDAY, "暴風警報", from_time=time(17)),
    ]
    day = day_schedule(SITE, WEDNESDAY, both)
    assert day.spans == ((time(8, 30), time(12)), (time(13), time(17)))
    assert day.reason == "closure: 停電; closure: 暴風警報"
    covering = [
        Closure(WEDNESDAY, "午前", until_time=time(12)),
        Closure(WEDNESDAY, "午後", from_time=time(12)),
    ]
    assert not day_schedule(SITE, WEDNESDAY, covering).open


def test_closures_of_other_dates_do_not_apply() -> None:
    result = list(days(SITE, WEDNESDAY, date(2026, 11, 26), [Closure(WEDNESDAY, "暴風警報")]))
    assert [d.open for d in result] == [False, True]
    assert result[1].reason is None


def test_a_valid_closure_is_accepted_with_its_reason_trimmed() -> None:
    assert check_closure(SITE, WEDNESDAY, "  暴風警報 ") == "暴風警報"
    assert check_closure(SITE, WEDNESDAY, "x" * 200, from_time=time(19, 59)) == "x" * 200
    assert check_closure(SITE, WEDNESDAY, "停電", from_time=time(7), until_time=time(9)) == "停電"


@pytest.mark.parametrize(
    ("day", "reason", "from_time", "until_time", "message"),
    [
        (WEDNESDAY, "   ", None, None, "needs a reason"),
        (WEDNESDAY, "x" * 201, None, None, "201 characters; at most 200"),
        (WEDNESDAY, "停電", time(14), time(12), "from 14:00 must end after it starts"),
        (WEDNESDAY, "停電", time(14), time(14), "must end after it starts"),
        (date(2026, 11, 23), "台風", None, None, "not open on 2026-11-23 (national_holiday"),
        (date(2026, 11, 14), "台風", None, None, "not open on 2026-11-14 (weekend"),
        (date(2026, 12, 30), "台風", None, None, "(year_end"),
        (WEDNESDAY, "停電", time(20, 30), None, "open 08:30–20:00 on 2026-11-25"),
        (date(2026, 11, 26), "停電", time(17, 15), None, "open 08:30–17:15"),
        (WEDNESDAY, "停電", None, time(8, 30), "outside those hours"),
    ],
)
def test_bad_closures_are_refused_clearly(
    day: date, reason: str, from_time: time | None, until_time: time | None, message: str
) -> None:
    with pytest.raises(ClosureError) as refused:
        check_closure(SITE, day, reason, from_time=from_time, until_time=until_time)
    assert message in str(refused.value)
