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
    cert_days: float = Field(
        90, gt=0, le=397, description="Kiosk certificate lifetime in days (fractions allowed)"
    )
    crl_days: float = Field(
        30,
        gt=0,
        le=365,
        description="The CRL's validity in days (fractions allowed); past its nextUpdate the "
        "broker refuses every kiosk, so the control plane re-signs it before (below)",
    )
    crl_refresh: bool = Field(
        True, description="Re-sign the CRL in the background before it expires"
    )
    crl_refresh_left: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Re-sign once less than this fraction of the CRL's validity is left",
    )
    crl_check_interval: timedelta = Field(
        timedelta(hours=1),
        gt=timedelta(0),
        description="How often the CRL's expiry is looked at (more often for a short validity)",
    )
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
