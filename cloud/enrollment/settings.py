"""Where the online intermediate CA and the broker's CRL live (MADOGUCHI_ENROLLMENT_*).

Kept apart from `CloudSettings` so that a control plane without a CA (development, most
tests) still starts: enrollment then answers 503 until `ca_dir` is set.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EnrollmentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_ENROLLMENT_", extra="forbid")

    ca_dir: Path | None = Field(
        None, description="The intermediate CA (ca.key, ca.crt, chain.crt); not the root"
    )
    crl_file: Path | None = Field(None, description="The CRL the broker reads (`crlfile`)")
    broker_reload: list[str] = Field(
        default_factory=list,
        description="Run after the CRL is written, e.g. systemctl restart mosquitto",
    )
    token_ttl: timedelta = timedelta(hours=24)
    cert_days: int = Field(90, ge=1, le=397)
    crl_days: int = Field(30, ge=1, le=365, description="The CRL's validity (refresh before)")
    renew_skew: timedelta = Field(
        timedelta(minutes=5), description="How old a signed renewal request may be"
    )


def enrollment_settings(request: Request) -> EnrollmentSettings:
    """The app's enrollment settings (set on `app.state` by tests, else from the env)."""
    state = request.app.state
    settings = getattr(state, "enrollment_settings", None)
    if settings is None:
        settings = EnrollmentSettings()
        state.enrollment_settings = settings
    return settings
