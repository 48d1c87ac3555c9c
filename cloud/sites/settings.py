"""Settings of the site lifecycle (MADOGUCHI_CLOUD_SITES__…)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field


class SitesSettings(BaseModel):
    check_max_age: timedelta = Field(
        timedelta(hours=24),
        description="A site opens only if its newest connection test passed within this time",
    )
    wipe_wait_s: float = Field(
        20.0,
        gt=0,
        le=300,
        description="How long `close` waits for the session-wipe commands to reach the kiosks "
        "before it revokes their certificates",
    )
