"""Registered sites, which kiosks belong to which site, and each site's history.

A site row keeps the validated site file it was created from (`definition`): the calendar
reads a registered site's schedule from it, and `site provision` its inventory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class SiteState(StrEnum):
    CREATED = "created"  # registered, kiosks listed, enrollment tokens issued
    PROVISIONED = "provisioned"  # every kiosk enrolled (holds a certificate)
    CHECKED = "checked"  # the connection test passed on every kiosk
    OPEN = "open"  # takes calls on its schedule
    CLOSED = "closed"  # no calls; session data wiped, certificates revoked
    DECOMMISSIONED = "decommissioned"  # kiosks refused for good; the site is kept as a record


class Site(Base):
    __tablename__ = "site"

    site_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # permanent | popup
    state: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set once `close` has revoked every kiosk's certificates; a close that failed half-way
    # (broker reload, database) is finished by running it again.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SiteKiosk(Base):
    """A kiosk belongs to one registered site at most (the primary key says so)."""

    __tablename__ = "site_kiosk"

    kiosk_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.site_id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(253))


class SiteEvent(Base):
    """Each transition of a site, who made it and what came with it (the check's run id,
    the commands sent, the certificates revoked)."""

    __tablename__ = "site_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.site_id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
