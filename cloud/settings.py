"""Control-plane settings, from `MADOGUCHI_CLOUD_*` environment variables (nested with `__`,
e.g. `MADOGUCHI_CLOUD_MQTT__HOST`). Created by the caller, never at import time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.alerts.rules import AlertThresholds
from cloud.auth.config import AuthSettings
from cloud.privacy.settings import PrivacySettings
from cloud.site_checks.settings import SiteCheckSettings
from cloud.sites.settings import SitesSettings
from cloud.turn.credentials import TurnSettings
from protocol.v1 import IceServer


class BrokerSettings(BaseModel):
    enabled: bool = True
    host: str = "localhost"
    port: int = Field(8883, ge=1, le=65535)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str = Field("madoguchi-cloud", min_length=1, max_length=64)
    replica_id: str = Field(
        "cloud-1",
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="This replica's name in the presence topic",
    )
    keepalive_s: int = Field(30, ge=5, le=600)
    shared_group: str = Field("cloud", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    session_expiry_s: int = Field(
        600,
        ge=0,
        description="How long the broker keeps messages for this replica while it is away",
    )
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _tls_files_given(self) -> BrokerSettings:
        if self.enabled and not (self.ca_file and self.cert_file and self.key_file):
            raise ValueError(
                "the broker needs ca_file, cert_file and key_file (TLS with a client "
                "certificate); set MADOGUCHI_CLOUD_MQTT__ENABLED=false to run without one"
            )
        return self


class TimeSeriesSettings(BaseModel):
    """The time-series store (VictoriaMetrics or InfluxDB) behind the v2 write API."""

    enabled: bool = False
    url: str = "http://127.0.0.1:8428"
    token: str = Field("", description="InfluxDB token; VictoriaMetrics ignores it")
    org: str = "madoguchi"
    bucket: str = "madoguchi"
    uptime_minutes: bool = Field(True, description="Write per-kiosk uptime minutes (up, open)")
    batch_size: int = Field(5000, ge=1)
    flush_interval_s: float = Field(1.0, gt=0)
    buffer_limit: int = Field(200_000, ge=1)
    timeout_s: float = Field(10.0, gt=0)


class AlertSettings(BaseModel):
    enabled: bool = True
    interval_s: float = Field(10.0, gt=0)
    webhook_url: str | None = Field(None, description="POSTed JSON with a chat-style `text`")
    thresholds: AlertThresholds = AlertThresholds()


class CalendarSettings(BaseModel):
    sites_dir: Path | None = Field(
        None, description="Site schedules (YAML) besides the built-in city-hall"
    )


class CallSettings(BaseModel):
    """Routing and the WebRTC call."""

    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description="STUN/TURN servers for kiosks and consoles. Empty: host candidates only "
        "(no public STUN server is contacted by default)",
    )
    ring_timeout_s: float = Field(20.0, gt=0, description="Then the call is offered to another")
    support_queue_threshold: int = Field(
        3, ge=1, description="Waiting calls at one site that bring the support staff"
    )
    presence_stale_s: float = Field(
        30.0, gt=0, description="A console silent this long is signed out"
    )
    turn: TurnSettings = Field(
        default_factory=TurnSettings,
        description="The TURN relay; each kiosk and console gets its own short-lived credential",
    )
    tick_s: float = Field(1.0, gt=0, description="Router pass when nothing wakes it")
    staffing_check_s: float = Field(30.0, gt=0)


class BillingSettings(BaseModel):
    """The contract's figures (yen). Tax is rounded down to the yen."""

    monthly_fee_yen: int = Field(1_500_000, ge=0, description="The online counter, per month")
    support_daily_rate_yen: int = Field(20_000, ge=0, description="Support staff, per day")
    tax_percent: int = Field(10, ge=0, le=100, description="Consumption tax")
    # The invoice (請求書) of an approved month: who issues it and to whom.
    issuer_name: str = Field("株式会社まどぐちサービス", description="The contractor")
    issuer_address: str = Field("沖縄県那覇市", description="The contractor's address")
    issuer_phone: str = Field("", description="The contractor's business number")
    issuer_registration_number: str = Field(
        "", description="適格請求書発行事業者登録番号 (T + 13 digits)"
    )
    recipient: str = Field("市長　様", description="Whom the invoice is addressed to")
    bank_account: str = Field("", description="Where the city pays, as printed on the invoice")
    invoice_prefix: str = Field("MDG", pattern=r"^[A-Za-z0-9-]{1,16}$")
    payment_days: int = Field(30, ge=0, le=120, description="Payment due after the invoice")


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MADOGUCHI_CLOUD_", env_nested_delimiter="__", extra="forbid"
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./madoguchi.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    token_ttl: timedelta = timedelta(hours=8)
    cookie_secure: bool = False
    login_attempts_per_minute: int = Field(20, ge=1, description="Per client address")
    auth: AuthSettings = AuthSettings()
    mqtt: BrokerSettings = BrokerSettings(enabled=False)
    timeseries: TimeSeriesSettings = TimeSeriesSettings()
    alerts: AlertSettings = AlertSettings()
    calendar: CalendarSettings = CalendarSettings()
    calls: CallSettings = CallSettings()
    billing: BillingSettings = BillingSettings()
    privacy: PrivacySettings = PrivacySettings()
    sites: SitesSettings = SitesSettings()
    site_checks: SiteCheckSettings = SiteCheckSettings()

    @model_validator(mode="after")
    def _production_is_safe(self) -> CloudSettings:
        if self.environment != "production":
            return self
        problems = []
        if not self.cookie_secure:
            problems.append("cookie_secure must be true (session cookies only over HTTPS)")
        if self.database_url.startswith("sqlite"):
            problems.append("database_url must be PostgreSQL, not SQLite")
        if not self.mqtt.enabled:
            problems.append("the MQTT broker must be enabled")
        problems += self.auth.production_problems()
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self
