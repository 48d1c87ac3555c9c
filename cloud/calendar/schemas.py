"""API bodies of the calendar."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field


class ClosureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    from_time: time | None = Field(None, description="Closed from this time (closes early)")
    until_time: time | None = Field(None, description="Closed until this time (opens late)")
    reason: str = Field(min_length=1, max_length=200)


class ClosureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    date: date
    from_time: time | None
    until_time: time | None
    reason: str
    recorded_by: str
    recorded_at: datetime


class DayRead(BaseModel):
    date: str
    open: bool
    opens: str | None
    closes: str | None
    last_reception: str | None
    reason: str | None
