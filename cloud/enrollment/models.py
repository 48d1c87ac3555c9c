"""Enrollment tokens (hash only), the certificates issued to kiosks, and each kiosk's
identity state (enrolled, revoked, decommissioned)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class IdentityState(StrEnum):
    PENDING = "pending"  # a token was issued, no certificate yet
    ENROLLED = "enrolled"
    REVOKED = "revoked"  # every certificate revoked; a new token may enroll it again
    DECOMMISSIONED = "decommissioned"  # revoked for good: no token, no enrollment, no renewal


class EnrollmentToken(Base):
    __tablename__ = "enrollment_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, hex
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certificate_serial: Mapped[str | None] = mapped_column(String(40))


class KioskCertificate(Base):
    __tablename__ = "kiosk_certificate"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    how: Mapped[str] = mapped_column(String(16))  # enroll | renew
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class KioskIdentity(Base):
    __tablename__ = "kiosk_identity"

    kiosk_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(64))
