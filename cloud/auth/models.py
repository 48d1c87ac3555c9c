"""Staff accounts and their session tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    SUPPORT = "support"
    TECH = "tech"
    CITY = "city"


class TokenScope(StrEnum):
    FULL = "full"
    ENROL = "enrol"  # only the second-factor enrolment endpoints


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # TOTP second factor: the secret encrypted (cloud/auth/totp.py), set at enrolment and
    # confirmed by a first code; the last accepted time step refuses a replayed code.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # "<issuer> <sub>" of a user signed in by the city's identity provider (OIDC).
    oidc_subject: Mapped[str | None] = mapped_column(String(512), unique=True)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None


class ApiToken(Base):
    """A session token. Only its SHA-256 is stored: a database dump grants no access."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # "full", or "enrol": a user who must enrol a second factor reaches only its endpoints.
    scope: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    # Idle timeout: the session ends when unused for `idle_timeout_s` (None: no idle limit).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    idle_timeout_s: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Base):
    """A one-time code that stands in for the TOTP code (a lost phone). Only its argon2
    hash is stored; the codes are shown once, when made."""

    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
