"""Checking a closure against the site's rules before it is recorded (pure; no storage).

A closure only ever removes opening hours, so one that removes nothing is almost always a
wrong date or time typed by a person; refusing it with the day's hours in the message lets
them correct it at once.
"""

from __future__ import annotations

from datetime import date, time

from cloud.calendar.days import day_schedule
from cloud.calendar.schedule import SiteSchedule

MAX_REASON = 200  # also the column width of `site_closure.reason`


class ClosureError(ValueError):
    """A closure that cannot be recorded; the message says why, for the person entering it."""


def check_closure(
    site: SiteSchedule,
    day: date,
    reason: str,
    *,
    from_time: time | None = None,
    until_time: time | None = None,
) -> str:
    """The reason, trimmed, if the closure can be recorded; raises `ClosureError` if not."""
    reason = reason.strip()
    if not reason:
        raise ClosureError("a closure needs a reason (e.g. 暴風警報)")
    if len(reason) > MAX_REASON:
        raise ClosureError(f"the reason is {len(reason)} characters; at most {MAX_REASON}")
    if from_time and until_time and from_time >= until_time:
        raise ClosureError(
            f"a closure from {from_time:%H:%M} must end after it starts, "
            f"not until {until_time:%H:%M}"
        )
    scheduled = day_schedule(site, day)
    if not (scheduled.open and scheduled.opens and scheduled.closes):
        raise ClosureError(
            f"{site.site_id} is not open on {day} ({scheduled.reason}); nothing to close"
        )
    start, end = from_time or time.min, until_time or time.max
    if start >= scheduled.closes or end <= scheduled.opens:
        raise ClosureError(
            f"{site.site_id} is open {scheduled.opens:%H:%M}–{scheduled.closes:%H:%M} on {day}; "
            "the closure lies outside those hours"
        )
    return reason
