"""API bodies of remote maintenance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from protocol.v1.messages import CommandName

Scalar = bool | int | float | Annotated[str, StringConstraints(max_length=200)]


class CommandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CommandName
    args: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")], Scalar] = (
        Field(default_factory=dict, max_length=32)
    )
    expires_in_s: int = Field(300, ge=10, le=86_400)
    force: bool = Field(False, description="Run even during a resident session (admin only)")


class CommandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    command_id: str
    kiosk_id: str
    name: str
    args: dict[str, Any]
    force: bool
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    state: str
    detail: str
    output: dict[str, Any]
    updated_at: datetime


class LogBundleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    command_id: str
    kiosk_id: str
    lines: list[str]
    truncated: bool
    received_at: datetime
