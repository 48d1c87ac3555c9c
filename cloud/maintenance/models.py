"""A command's life: queued → sent → accepted/deferred → succeeded | failed | rejected |
expired | timed_out. Persistent, so a control-plane restart forgets nothing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
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


class Rollout(Base):
    """An agent version rolled out to many kiosks in throttled waves; halted when too many
    fail, so one bad release cannot take the whole fleet down."""

    __tablename__ = "rollout"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    wave_size: Mapped[int] = mapped_column(Integer)
    wave_interval_s: Mapped[int] = mapped_column(Integer)
    max_failures: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)  # running | done | halted
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RolloutTarget(Base):
    __tablename__ = "rollout_target"

    rollout_id: Mapped[int] = mapped_column(
        ForeignKey("rollout.id", ondelete="CASCADE"), primary_key=True
    )
    kiosk_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    wave: Mapped[int | None] = mapped_column(Integer)
    command_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))  # waiting | sent | succeeded | failed


class KioskScreenshot(Base):
    """A kiosk screen taken by a `screenshot` command (never during a resident's session)."""

    __tablename__ = "kiosk_screenshot"

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
