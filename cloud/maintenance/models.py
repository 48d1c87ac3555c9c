"""A command's life: queued → sent → accepted/deferred → succeeded | failed | rejected |
expired | timed_out. Persistent, so a control-plane restart forgets nothing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class CommandState(StrEnum):
    QUEUED = "queued"  # recorded, not yet handed to the broker
    SENT = "sent"  # the broker acknowledged it
    ACCEPTED = "accepted"  # the kiosk started it
    DEFERRED = "deferred"  # the kiosk waits for the resident's session to end
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"  # the kiosk received it too late
    TIMED_OUT = "timed_out"  # no answer before it expired


FINAL_STATES = frozenset(
    {
        CommandState.SUCCEEDED,
        CommandState.FAILED,
        CommandState.REJECTED,
        CommandState.EXPIRED,
        CommandState.TIMED_OUT,
    }
)


class KioskCommand(Base):
    __tablename__ = "kiosk_command"

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    output: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KioskLogBundle(Base):
    """Log lines a kiosk sent for a `collect_logs` command (redacted on the kiosk)."""

    __tablename__ = "kiosk_log_bundle"

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    lines: Mapped[list[str]] = mapped_column(JSON)
    truncated: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
