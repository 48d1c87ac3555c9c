"""Inspections (techs, weekly, per device) and incidents or complaints (anyone)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class Inspection(Base):
    __tablename__ = "inspection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    kiosk_id: Mapped[str] = mapped_column(String(63))
    inspected_on: Mapped[date] = mapped_column(Date, index=True)
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON)  # item -> "ok" | "ng"
    result: Mapped[str] = mapped_column(String(8))  # ok | ng
    notes: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    kiosk_id: Mapped[str | None] = mapped_column(String(63))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # incident | complaint
    severity: Mapped[str] = mapped_column(String(16))  # minor | serious
    summary: Mapped[str] = mapped_column(String(500))
    prevention_plan: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
