"""The connection test's limits (`MADOGUCHI_EDGE_SITE_CHECK_*`): what a site's network must
achieve for calls to work. Defaults fit a mobile router at a pop-up site: a video call needs
about 1.5 Mbit/s each way and stays fluent under 300 ms round trip."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SiteCheckLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_EDGE_SITE_CHECK_", extra="forbid")

    broker_tls_max_ms: float = Field(
        3000.0, gt=0, description="TLS handshake with the kiosk's certificate plus CONNACK"
    )
    rtt_max_ms: float = Field(
        300.0, gt=0, description="Median round trip to the control plane's probe endpoint"
    )
    rtt_samples: int = Field(7, ge=3, le=50, description="Probe requests for the median")
    throughput_min_mbit_s: float = Field(
        2.0, ge=0, description="The lower of download and upload through the probe endpoint"
    )
    throughput_bytes: int = Field(
        2_000_000, ge=10_000, le=16_000_000, description="Bytes sent each way"
    )
    turn_max_ms: float = Field(3000.0, gt=0, description="TURN allocation, per relay URL")
    clock_max_offset_s: float = Field(
        2.0, gt=0, description="|offset| to the control plane's clock (NTP-style estimate)"
    )
    item_timeout_s: float = Field(
        20.0, gt=0, le=300, description="Each item runs concurrently within this"
    )
    probe_ca_file: Path | None = Field(
        None,
        description="Trust anchor for an https probe URL; default: the system's CA store",
    )
    turn_ca_file: Path | None = Field(
        None, description="Trust anchor for turns: relays; default: the system's CA store"
    )
