"""API bodies of the sites domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,61}\.yaml$",
        description="The site file's name: it must be `<site_id>.yaml`",
    )
    definition: dict[str, Any] = Field(description="The site file, parsed (YAML → JSON)")


class IssuedToken(BaseModel):
    kiosk_id: str
    token: str = Field(description="Shown once: only its SHA-256 is stored")
    expires_at: datetime


class SiteKioskRead(BaseModel):
    kiosk_id: str
    hostname: str
    enrolled: bool = Field(description="Holds a valid, unrevoked certificate")
    identity: str | None = Field(description="pending, enrolled, revoked or decommissioned")
    status: str | None = Field(description="online or offline (fleet registry)")


class SiteEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: str | None
    to_state: str
    by: str
    at: datetime
    detail: dict[str, Any]


class SiteSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: str
    name: str
    kind: str
    state: str
    state_changed_at: datetime


class SiteRead(SiteSummary):
    created_by: str
    created_at: datetime
    certificates_revoked_at: datetime | None
    definition: dict[str, Any]
    kiosks: list[SiteKioskRead]
    history: list[SiteEventRead]


class SiteCreated(BaseModel):
    site: SiteRead
    tokens: list[IssuedToken]


class SiteClosed(BaseModel):
    site: SiteRead
    wipe_commands: dict[str, str] = Field(description="Command id → state when revoking")
    revoked: dict[str, list[str]] = Field(description="Kiosk id → certificate serials revoked")
    broker_reload: list[str]
