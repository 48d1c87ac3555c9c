"""A site's schedule rules, validated from YAML."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from protocol.v1.ids import ID_PATTERN

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The site files (`sites/<site-id>.yaml`, see `provisioning/sites.py`) shipped with the repo.
BUILTIN_SITES = Path(__file__).resolve().parents[2] / "sites"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(Strict):
    opens: time
    closes: time
    last_reception: time

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if not self.opens < self.last_reception <= self.closes:
            raise ValueError("hours must satisfy opens < last_reception <= closes")
        return self


class NthWeekday(Strict):
    weekday: Weekday
    nth: int = Field(ge=1, le=5)


class MonthDay(Strict):
    """A yearly span of "MM-DD" days; it may wrap around the new year (12-29 to 01-03)."""

    first: str = Field(pattern=r"^\d\d-\d\d$")
    last: str = Field(pattern=r"^\d\d-\d\d$")

    @field_validator("first", "last")
    @classmethod
    def _real_day(cls, value: str) -> str:
        try:
            date.fromisoformat(f"2000-{value}")  # a leap year, so 02-29 is allowed
        except ValueError:
            raise ValueError(f"{value!r} is not a month and day (MM-DD)") from None
        return value

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        key = f"{day.month:02d}-{day.day:02d}"
        if self.first <= self.last:
            return self.first <= key <= self.last
        return key >= self.first or key <= self.last

    def label(self) -> str:
        """Japanese label, e.g. 年末年始（12月29日〜1月3日）."""

        def japanese(value: str) -> str:
            month, day = value.split("-")
            return f"{int(month)}月{int(day)}日"

        return f"年末年始（{japanese(self.first)}〜{japanese(self.last)}）"


class Interval(Strict):
    start: time
    end: time


class Period(Strict):
    """A stretch of dates a pop-up site is open on (both included); its `hours`, if given,
    apply to every date of the stretch, whatever the weekday."""

    first: date
    last: date
    hours: Hours | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.first > self.last:
            raise ValueError(f"period starts {self.first} after it ends {self.last}")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


class ScheduleRules(Strict):
    """A site's opening rules. Precedence, strongest first: `extra_closed_dates`, the year-end
    break, `periods` (a date outside every period is closed; a period's own hours win),
    `extra_open_dates`, special open days (subject to `special_days_on_holidays`), national
    holidays, the weekly hours."""

    timezone: str = "Asia/Tokyo"
    weekly: dict[Weekday, Hours]  # `{}` for a pop-up open only in its `periods`
    special_hours: dict[Weekday, Hours] = Field(default_factory=dict)
    special_open_days: tuple[NthWeekday, ...] = ()
    closed_on_national_holidays: bool = True
    year_end: MonthDay | None = None
    special_days_on_holidays: Literal["closed", "open"] = "closed"
    support_break: Interval | None = None
    extra_open_dates: tuple[date, ...] = ()
    extra_closed_dates: tuple[date, ...] = ()
    periods: tuple[Period, ...] = ()

    @model_validator(mode="after")
    def _periods_apart(self) -> ScheduleRules:
        ordered = sorted(self.periods, key=lambda p: p.first)
        for earlier, later in itertools.pairwise(ordered):
            if later.first <= earlier.last:
                raise ValueError(
                    f"overlapping periods: {earlier.first}..{earlier.last} and "
                    f"{later.first}..{later.last}"
                )
        return self

    def period_of(self, day: date) -> Period | None:
        return next((p for p in self.periods if day in p), None)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Tokyo)") from None
        return value

    @model_validator(mode="after")
    def _special_days_have_hours(self) -> ScheduleRules:
        for rule in self.special_open_days:
            if self.hours_for(rule.weekday, special=True) is None:
                raise ValueError(f"special open day on {rule.weekday} has no hours")
        return self

    @model_validator(mode="after")
    def _extra_dates_consistent(self) -> ScheduleRules:
        # Contradictory one-off dates would otherwise be silently ignored by the precedence.
        both = sorted(set(self.extra_open_dates) & set(self.extra_closed_dates))
        if both:
            raise ValueError(f"dates both in extra_open_dates and extra_closed_dates: {both}")
        for day in self.extra_open_dates:
            if self.year_end is not None and day in self.year_end:
                raise ValueError(
                    f"extra open date {day} is in the year-end break, which always wins"
                )
            if self.hours_for(WEEKDAYS[day.weekday()], special=False) is None:
                raise ValueError(f"extra open date {day}: no hours for its weekday")
        return self

    def hours_for(self, weekday: Weekday, *, special: bool) -> Hours | None:
        """The hours of a special open day (special first) or a regular day (weekly first)."""
        first, second = (
            (self.special_hours, self.weekly) if special else (self.weekly, self.special_hours)
        )
        return first.get(weekday) or second.get(weekday)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances by key


class SiteSchedule(ScheduleRules):
    """One site's rules with its id and name: what the calendar works with."""

    site_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)


class UnknownSiteError(LookupError):
    """No schedule file for the site id."""


class InvalidSiteError(ValueError):
    """A schedule file that is not valid YAML or breaks the rules above."""


def load_site(site_id: str, *, sites_dir: Path | None = None) -> SiteSchedule:
    """The schedule of `site_id` from `sites_dir` (then the built-in sites)."""
    if not re.fullmatch(ID_PATTERN, site_id):
        raise UnknownSiteError(f"no schedule for site '{site_id}' (not a valid site id)")
    for directory in (d for d in (sites_dir, BUILTIN_SITES) if d is not None):
        path = directory / f"{site_id}.yaml"
        if path.exists():
            return _parse(path, site_id)
    raise UnknownSiteError(f"no schedule for site '{site_id}'")


def _parse(path: Path, site_id: str) -> SiteSchedule:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidSiteError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "schedule" in data:
        site = _from_site_file(data, path)
    else:
        # A schedule-only file (the rules at the top level): still read for `--sites-dir`.
        try:
            site = SiteSchedule.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidSiteError(f"{path}: {problems}") from None
    if site.site_id != site_id:
        raise InvalidSiteError(f"{path}: site_id is '{site.site_id}', expected '{site_id}'")
    return site


def _from_site_file(data: dict[str, object], path: Path) -> SiteSchedule:
    """The schedule of a whole site file, validated as a whole (an unknown field anywhere
    in it is an error here too)."""
    # Imported here: provisioning.sites builds on this module.
    from provisioning.sites import SiteFileError, parse_site_data

    try:
        site = parse_site_data(data, path, check_name=False)  # the caller checks the id
    except SiteFileError as exc:
        raise InvalidSiteError(str(exc)) from None
    return site.calendar_schedule()


def schedule_mapping(path: Path) -> dict[str, Any]:
    """A site file as the calendar reads it, flat (site_id, name and the rules): for deriving
    variants of a shipped site in tests and benchmarks."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "schedule" in data:
        return {"site_id": data["site_id"], "name": data["name"], **data["schedule"]}
    return dict(data)


def site_schedule(site_id: str, name: str, rules: dict[str, object]) -> SiteSchedule:
    """A registered site's schedule (stored as the rules of its site file)."""
    return SiteSchedule.model_validate({**rules, "site_id": site_id, "name": name})
