"""API bodies of alerts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kiosk_id: str
    site_id: str
    kind: str
    severity: str
    detail: str
    opened_at: datetime
    resolved_at: datetime | None
