"""A site's schedule rules, validated from YAML."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.v1.ids import ID_PATTERN

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUILTIN_SITES = Path(__file__).with_name("sites")


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
    first: str = Field(pattern=r"^\d\d-\d\d$")
    last: str = Field(pattern=r"^\d\d-\d\d$")


class Interval(Strict):
    start: time
    end: time


class SiteSchedule(Strict):
    site_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    timezone: str = "Asia/Tokyo"
    weekly: dict[Weekday, Hours]
    special_hours: dict[Weekday, Hours] = Field(default_factory=dict)
    special_open_days: tuple[NthWeekday, ...] = ()
    closed_on_national_holidays: bool = True
    year_end: MonthDay | None = None
    special_days_on_holidays: Literal["closed", "open"] = "closed"
    support_break: Interval | None = None
    extra_open_dates: tuple[date, ...] = ()
    extra_closed_dates: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @model_validator(mode="after")
    def _special_days_have_hours(self) -> SiteSchedule:
        for rule in self.special_open_days:
            if rule.weekday not in self.special_hours and rule.weekday not in self.weekly:
                raise ValueError(f"special open day on {rule.weekday} has no hours")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class UnknownSiteError(LookupError):
    pass


def load_site(site_id: str, *, sites_dir: Path | None = None) -> SiteSchedule:
    """The schedule of `site_id` from `sites_dir` (then the built-in sites)."""
    for directory in (d for d in (sites_dir, BUILTIN_SITES) if d is not None):
        path = directory / f"{site_id}.yaml"
        if path.exists():
            return SiteSchedule.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    raise UnknownSiteError(f"no schedule for site '{site_id}'")
