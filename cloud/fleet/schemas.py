"""API bodies of the fleet domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class KioskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kiosk_id: str
    site_id: str
    status: str
    bd_seq: int
    online_since: datetime | None
    last_seen_at: datetime
    agent_version: str
    os_version: str
    peripherals: list[dict[str, Any]]
    host: dict[str, Any] | None
    training: bool


class KioskTrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    training: bool
