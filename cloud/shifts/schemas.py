"""API bodies of the roster."""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field


class ShiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="An operator or support staff")
    date: date
    start: time
    end: time
    site_id: str | None = Field(None, max_length=63, description="Support staff: their site")


class ShiftRead(BaseModel):
    id: int
    username: str
    display_name: str
    duty: str
    site_id: str | None
    date: str
    start: str
    end: str
