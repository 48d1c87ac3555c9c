"""Kiosks as the control plane knows them, their state changes and events.

Nothing here is personal: kiosk ids, versions, host health, event names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class Kiosk(Base):
    __tablename__ = "kiosk"

    kiosk_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(16))  # online | offline
    bd_seq: Mapped[int] = mapped_column(BigInteger)
    online_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_version: Mapped[str] = mapped_column(String(64))
    os_version: Mapped[str] = mapped_column(String(128))
    peripherals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    host: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_telemetry_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # A training kiosk (set by an administrator): its calls go to operators in training mode,
    # and it never counts in uptime, reports, billing or alerts.
    training: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class KioskStateChange(Base):
    """Every online/offline transition: the raw material of uptime reports."""

    __tablename__ = "kiosk_state_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosk.kiosk_id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(16))  # birth | will | goodbye
    bd_seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class KioskEvent(Base):
    __tablename__ = "kiosk_event"
    __table_args__ = (UniqueConstraint("kiosk_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    peripheral: Mapped[str | None] = mapped_column(String(32))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
