"""What the site-check endpoints take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.v1.messages import PeripheralName


class SiteCheckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    peripherals: list[PeripheralName] | None = Field(
        None,
        max_length=5,
        description="The peripherals every kiosk of the site must have; default all five",
    )


class SiteCheckStarted(BaseModel):
    run_id: str
    site_id: str
    kiosks: list[str]
    deadline: datetime


class KioskCheckRead(BaseModel):
    kiosk_id: str
    status: Literal["pending", "passed", "failed"]
    detail: str
    reported_at: datetime | None
    items: list[dict[str, Any]] = Field(
        description="SiteCheckItem: name, passed, measured, unit, limit, detail"
    )


class SiteCheckRead(BaseModel):
    run_id: str
    site_id: str
    status: Literal["pending", "passed", "failed"]
    passed: bool
    requested_by: str
    requested_at: datetime
    deadline: datetime
    finished_at: datetime | None
    kiosks: list[KioskCheckRead]


class ProbeUpload(BaseModel):
    received_bytes: int
    received_at: float
    sent_at: float
