"""Request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cloud.auth.models import Role

USERNAME_PATTERN = r"^[a-z][a-z0-9._-]{2,63}$"


TOTP_CODE_PATTERN = r"^[0-9]{6}$"
# Ten base32 characters, as shown (`xxxxx-xxxxx`) or typed without the hyphen.
RECOVERY_CODE_PATTERN = r"^[A-Za-z2-7]{5}-?[A-Za-z2-7]{5}$"


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    totp: str | None = Field(
        None, pattern=TOTP_CODE_PATTERN, description="The current code, once enrolled"
    )
    recovery_code: str | None = Field(
        None,
        pattern=RECOVERY_CODE_PATTERN,
        description="Instead of `totp`: one of the user's recovery codes (each works once)",
    )


class TokenRead(BaseModel):
    token: str
    expires_at: datetime
    user: UserRead
    totp_enrolment_required: bool = Field(
        False,
        description="The session reaches only /api/auth/totp/* (and log-out) until a second "
        "factor is enrolled and confirmed",
    )


class TotpStatus(BaseModel):
    enrolled: bool
    required: bool


class TotpEnrolment(BaseModel):
    """Shown once: the secret cannot be read back after the enrolment is confirmed."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=TOTP_CODE_PATTERN)


class TotpConfirmed(TotpStatus):
    recovery_codes: list[str] = Field(
        description="Shown once: each replaces a TOTP code at one log-in; only hashes are kept"
    )


class RecoveryCodesLeft(BaseModel):
    left: int = Field(description="Unused recovery codes")


class RecoveryCodesRegenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=256)
    totp: str = Field(pattern=TOTP_CODE_PATTERN, description="A current code from the app")


class RecoveryCodes(BaseModel):
    """Shown once; the previous set no longer works."""

    recovery_codes: list[str]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=256)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    totp_enrolled: bool = False


TokenRead.model_rebuild()
