"""Agent configuration, from environment variables (`MADOGUCHI_EDGE_*`) or arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.v1.ids import ID_PATTERN
from protocol.v1.messages import PeripheralName

ALL_PERIPHERALS: tuple[PeripheralName, ...] = (
    "card_reader",
    "tenkey",
    "face_camera",
    "document_scanner",
    "headset",
)


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_EDGE_", extra="forbid")

    kiosk_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    site_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    broker_host: str = "localhost"
    broker_port: int = Field(8883, ge=1, le=65535)
    ca_file: Path
    cert_file: Path
    key_file: Path
    keepalive_s: int = Field(
        30,
        ge=1,
        le=600,
        description="MQTT keepalive; the broker declares the kiosk dead after 1.5 times this",
    )
    telemetry_interval_s: float = Field(10.0, ge=0.1, le=3600)
    state_dir: Path = Field(
        Path("/var/lib/madoguchi-agent"),
        description="Counters kept across restarts (birth-death and message sequence numbers)",
    )
    peripherals: tuple[PeripheralName, ...] = ALL_PERIPHERALS
    simulate_peripherals: bool = Field(
        True, description="Stand simulated devices in for the peripherals (said so in birth)"
    )
    outbox_limit: int = Field(1000, ge=10, description="Messages kept in memory while connected")
    store_and_forward: bool = Field(True, description="Keep messages on disk while offline")
    disk_queue_max_rows: int = Field(200_000, ge=100, description="Disk queue bound (rows)")
    telemetry_ttl_s: float = Field(
        7 * 24 * 3600, gt=0, description="Older queued telemetry is dropped"
    )
    reboot_command: tuple[str, ...] = Field(
        ("systemctl", "reboot"), description="Run by the reboot command (through sudoers/polkit)"
    )
    replay_rate_per_s: float = Field(50.0, gt=0, description="Backlog replay pace")
    clock_sync_wait_s: float = Field(
        120.0, ge=0, description="How long to wait at start for time sync before connecting anyway"
    )
    calls: bool = Field(True, description="Serve residents: the resident screen and the call")
    resident_host: str = Field("127.0.0.1", description="Loopback only; Chromium shows it")
    resident_port: int = Field(8080, ge=0, le=65535, description="0 picks a free port")
    camera: str = Field(
        "test-pattern",
        description="Face camera: opencv:INDEX, file:PATH (a recording) or test-pattern",
    )
    screen_capture: str = Field(
        "x11", description="Kiosk screen track: x11[:DISPLAY], test-pattern, or empty for none"
    )
    microphone: str = Field(
        "tone", description="Headset microphone: alsa:DEVICE, pulse:DEVICE, or tone (a test tone)"
    )
    card_reader: str | None = Field(
        None,
        description="The PC/SC card reader: `pcsc` (the first reader) or `pcsc:NAME` (a reader "
        "whose name contains NAME); real even when the other peripherals are simulated",
    )
    tenkey: str | None = Field(
        None,
        description="The USB numeric keypad: part of its /dev/input path or name (evdev); "
        "its keys raise the PIN guard",
    )
    document_camera: str | None = Field(
        None,
        description="The stand scanner (document camera) for the application form: "
        "opencv:INDEX, image:PATH (a photograph) or file:PATH",
    )
    remote_control: bool = Field(
        True, description="Let the operator drive the kiosk screen (XTest on the X display)"
    )
    session_dir: Path = Field(
        Path("/dev/shm/madoguchi-agent"),  # noqa: S108 - tmpfs on purpose, private 0700 dir
        description="Photos and scans of the session in progress, in RAM; wiped at its end "
        "and at start-up",
    )
    releases_dir: Path | None = Field(
        None,
        description="Installed releases with a `current` symlink (edge/updates.py); "
        "without it `update_agent` is refused",
    )
    installer: tuple[str, ...] = Field(
        ("/opt/madoguchi/bin/install-release", "{artifact}", "{release}"),
        description="Installs an artifact into a release directory",
    )
    update_health_timeout_s: float = Field(
        180.0, gt=0, description="A new release must be healthy within this, or it is rolled back"
    )
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    # Certificate renewal (edge/renewal.py): off without the control plane's URL.
    control_plane_url: str | None = Field(
        None, description="Where `/api/enroll/renew` is; unset: no automatic renewal"
    )
    renew_when_left: float = Field(
        1 / 3, gt=0, lt=1, description="Renew once less than this fraction of the lifetime is left"
    )
    renew_check_interval_s: float = Field(
        86400, gt=0, description="How often the certificate's expiry is looked at (daily)"
    )
    renew_retry_min_s: float = Field(60, gt=0, description="First retry after a failed renewal")
    renew_retry_max_s: float = Field(3600, gt=0, description="Longest wait between retries")
