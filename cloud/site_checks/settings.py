"""Connection-test settings (`MADOGUCHI_CLOUD_SITE_CHECKS__*`, part of `CloudSettings`).

A control plane without a public URL still starts; the check endpoint answers 409 until it
is set.
"""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field


class SiteCheckSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=150,
        description="The control plane's URL as kiosks reach it (the TLS proxy), e.g. "
        "https://cp.example.jp; the probe is `{public_url}/api/kiosk-probe`",
    )
    answer_timeout_s: int = Field(
        300,
        ge=10,
        le=3600,
        description="A kiosk silent this long after the check was sent has failed it; the "
        "command and the probe token expire then too",
    )


def site_check_settings(request: Request) -> SiteCheckSettings:
    """The app's settings (`site_checks` of its `CloudSettings`; tests may set
    `app.state.site_check_settings` to change them on a running app)."""
    state = request.app.state
    override: SiteCheckSettings | None = getattr(state, "site_check_settings", None)
    if override is not None:
        return override
    settings: SiteCheckSettings = state.settings.site_checks
    return settings
