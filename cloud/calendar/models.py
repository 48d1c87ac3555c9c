"""Closures recorded by city staff (a storm warning, a power cut)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Date, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class SiteClosure(Base):
    __tablename__ = "site_closure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    from_time: Mapped[time | None] = mapped_column(Time)
    until_time: Mapped[time | None] = mapped_column(Time)
    reason: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
