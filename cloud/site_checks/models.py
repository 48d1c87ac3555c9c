"""Connection-test runs and each kiosk's report. Nothing personal: measurements, limits and
pass/fail per check; the probe token is stored only as its SHA-256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class SiteCheckRun(Base):
    __tablename__ = "site_check_run"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # After this a kiosk that has not answered has failed the check.
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    peripherals: Mapped[list[str]] = mapped_column(JSON, default=list)


class SiteCheckKiosk(Base):
    """One kiosk's part of a run: its command, its probe token (hash), its report."""

    __tablename__ = "site_check_kiosk"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("site_check_run.run_id", ondelete="CASCADE"), primary_key=True
    )
    kiosk_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(36), unique=True)
    probe_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
