"""Pydantic models of every kiosk <-> cloud message.

Every message shares one envelope (`schema`, `type`, `kiosk_id`, `sent_at`, `seq`) and is one
member of the `KioskMessage` union, discriminated on `type`. Models are strict (no type
coercion), forbid unknown fields and are frozen. Free-text fields are short and bounded:
nothing here is a place for personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from protocol.v1.ids import KioskId, SiteId

SCHEMA_VERSION: Literal[1] = 1

ShortText = Annotated[str, StringConstraints(max_length=200)]
VersionText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Scalar = bool | int | float | ShortText
Attributes = Annotated[dict[AttributeKey, Scalar], Field(max_length=32)]

PeripheralName = Literal["card_reader", "tenkey", "face_camera", "document_scanner", "headset"]
PeripheralStatus = Literal["ok", "absent", "error", "unknown"]


class StrictModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class Envelope(StrictModel):
    """Fields every message carries."""

    schema_version: Literal[1] = Field(1, alias="schema")
    kiosk_id: KioskId
    sent_at: AwareDatetime
    seq: int = Field(ge=0, description="The sender's sequence number, increasing per kiosk")


class Peripheral(StrictModel):
    name: PeripheralName
    status: PeripheralStatus
    simulated: bool = Field(description="True when no real device stands behind it")
    detail: ShortText | None = None


# --- kiosk -> cloud -------------------------------------------------------------------------


class StateMessage(Envelope):
    """Birth (`online`, retained) and Last Will (`offline`) on the `state` topic.

    `bd_seq` is the birth-death sequence number: the will set at connect time carries the
    same number as the birth that follows, so a will from an older session (lower bd_seq)
    can be recognised as stale and never marks a live kiosk offline.
    """

    type: Literal["state"] = "state"
    status: Literal["online", "offline"]
    bd_seq: int = Field(ge=0)
    will: bool = Field(False, description="True when published by the broker as Last Will")
    site_id: SiteId
    agent_version: VersionText
    os_version: Annotated[str, StringConstraints(max_length=128)]
    peripherals: Annotated[tuple[Peripheral, ...], Field(max_length=16)] = ()


class HostHealth(StrictModel):
    cpu_percent: float = Field(ge=0, le=100)
    memory_percent: float = Field(ge=0, le=100)
    memory_used_bytes: int = Field(ge=0)
    disk_percent: float = Field(ge=0, le=100)
    disk_free_bytes: int = Field(ge=0)
    uptime_s: float = Field(ge=0)
    load_1m: float | None = Field(None, ge=0)
    temperature_c: float | None = Field(None, ge=-50, le=150)


class NetworkHealth(StrictModel):
    broker_rtt_ms: float | None = Field(None, ge=0, description="Publish-to-PUBACK median")
    link: Literal["ethernet", "wifi", "cellular", "other", "unknown"] = "unknown"
    clock_synchronized: bool | None = None


class CallQuality(StrictModel):
    """The call in progress, from aiortc's statistics (RTCP receiver reports)."""

    rtt_ms: float | None = Field(None, ge=0)
    jitter_ms: float | None = Field(None, ge=0)
    loss_percent: float = Field(0.0, ge=0, le=100, description="Over the last interval")
    video_fps: float = Field(0.0, ge=0, description="Camera frames sent per second")
    video_level: int = Field(
        0, ge=0, le=9, description="0 = full video; higher = lower resolution and frame rate"
    )


class TelemetryMessage(Envelope):
    type: Literal["telemetry"] = "telemetry"
    interval_s: float = Field(gt=0, le=3600)
    host: HostHealth
    peripherals: Annotated[tuple[Peripheral, ...], Field(max_length=16)] = ()
    network: NetworkHealth | None = None
    outbox_depth: int = Field(0, ge=0, description="Messages waiting for the broker")
    agent_version: VersionText | None = None
    call: CallQuality | None = Field(None, description="Present while a call is in progress")


EventName = Literal[
    "agent_started",
    "agent_stopping",
    "peripheral_connected",
    "peripheral_disconnected",
    "card_inserted",
    "card_removed",
    "config_applied",
    "error",
]


class EventMessage(Envelope):
    """Something happened on the kiosk. Never card or resident data."""

    type: Literal["event"] = "event"
    name: EventName
    severity: Literal["info", "warning", "error"] = "info"
    peripheral: PeripheralName | None = None
    attributes: Attributes = Field(default_factory=dict)


CommandName = Literal[
    "self_test",
    "restart_agent",
    "reboot",
    "collect_logs",
    "set_config",
    "update_agent",
    "screenshot",
    "site_check",
]
CommandStatus = Literal["accepted", "deferred", "rejected", "expired", "succeeded", "failed"]


class CommandResultMessage(Envelope):
    type: Literal["cmd_result"] = "cmd_result"
    command_id: UUID
    name: CommandName
    status: CommandStatus
    detail: Annotated[str, StringConstraints(max_length=500)] = ""
    output: Attributes = Field(default_factory=dict)


LogLine = Annotated[str, StringConstraints(max_length=1000)]


class LogBundleMessage(Envelope):
    """The agent's recent log lines, answering a `collect_logs` command. Redacted on the
    kiosk before sending; bounded well under the payload limit."""

    type: Literal["logs"] = "logs"
    command_id: UUID
    lines: Annotated[tuple[LogLine, ...], Field(max_length=500)]
    truncated: bool = Field(description="Older lines were left out to stay within bounds")


class ScreenshotMessage(Envelope):
    """The kiosk screen, answering a `screenshot` command — only ever taken when no resident
    is being served. A JPEG, base64, small enough for one message."""

    type: Literal["screenshot"] = "screenshot"
    command_id: UUID
    width: int = Field(ge=1, le=4096)
    height: int = Field(ge=1, le=4096)
    jpeg_base64: Annotated[str, StringConstraints(min_length=4, max_length=60_000)]


# --- cloud -> kiosk -------------------------------------------------------------------------


SiteCheckName = Literal[
    "broker_tls",
    "control_plane_rtt",
    "control_plane_throughput",
    "turn",
    "clock",
    "card_reader",
    "tenkey",
    "face_camera",
    "document_scanner",
    "headset",
]
SiteCheckUnit = Literal["ms", "Mbit/s", "s"]


class SiteCheckItem(StrictModel):
    """One line of the connection test: what was measured, against which limit."""

    name: SiteCheckName
    passed: bool
    measured: float | None = Field(None, ge=0, description="The value, in `unit`")
    unit: SiteCheckUnit | None = None
    limit: float | None = Field(
        None, ge=0, description="Pass bound: a maximum for ms and s, a minimum for Mbit/s"
    )
    detail: ShortText = ""


class SiteCheckMessage(Envelope):
    """The kiosk's answer to a `site_check` command: the connection test the specification
    asks for before a site opens, run with the kiosk's own certificate and network."""

    type: Literal["site_check"] = "site_check"
    command_id: UUID
    site_id: SiteId
    passed: bool = Field(description="True only when every item passed")
    items: Annotated[tuple[SiteCheckItem, ...], Field(min_length=1, max_length=16)]

    @model_validator(mode="after")
    def _verdict_matches_items(self) -> SiteCheckMessage:
        if self.passed != all(item.passed for item in self.items):
            raise ValueError("passed must be true exactly when every item passed")
        if len({item.name for item in self.items}) != len(self.items):
            raise ValueError("each check appears once")
        return self


class CommandMessage(Envelope):
    """A maintenance command for the kiosk named in `kiosk_id` (the target)."""

    type: Literal["cmd"] = "cmd"
    command_id: UUID = Field(description="Idempotency key: a repeated id is answered, not rerun")
    name: CommandName
    args: Attributes = Field(default_factory=dict)
    issued_by: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    expires_at: AwareDatetime
    force: bool = Field(False, description="Run even during a resident session (admin only)")


class KioskConfig(StrictModel):
    """The desired configuration the cloud keeps retained for each kiosk."""

    telemetry_interval_s: float = Field(10.0, ge=0.1, le=3600)
    # The versions of the texts the resident consents to before a call; the resident
    # screen shows these and the call request carries them back.
    terms_version: VersionText = "2026-04"
    privacy_version: VersionText = "2026-04"


class ConfigMessage(Envelope):
    type: Literal["config"] = "config"
    version: int = Field(ge=1)
    config: KioskConfig


# --- both directions ------------------------------------------------------------------------


CallAction = Literal[
    # kiosk -> cloud (`call/up`)
    "request",
    "cancel",
    "offer",
    "hangup",
    # cloud -> kiosk (`call/down`)
    "queued",
    "assigned",
    "answer",
    "ended",
    "support_coming",
]
KIOSK_CALL_ACTIONS: frozenset[str] = frozenset({"request", "cancel", "offer", "hangup"})
CLOUD_CALL_ACTIONS: frozenset[str] = frozenset(
    {"queued", "assigned", "answer", "ended", "support_coming"}
)
CallEndReason = Literal[
    "completed",
    "resident_hung_up",
    "operator_hung_up",
    "operator_disconnected",
    "kiosk_offline",
    "abandoned",
    "no_operator",
    "transferred_to_support",
]
# Resident-screen languages; the texts live in the edge's translation files.
Language = Literal["ja", "en", "zh", "ko", "vi"]
# WebRTC SDP bodies from aiortc and Chromium stay well under this (a few KiB).
SdpText = Annotated[str, StringConstraints(min_length=1, max_length=32_000)]
IceUrl = Annotated[str, StringConstraints(pattern=r"^(stun|stuns|turn|turns):[^\s]{1,200}$")]


class IceServer(StrictModel):
    """One STUN/TURN server. aiortc uses only the first STUN and the first TURN server."""

    urls: tuple[IceUrl, ...] = Field(min_length=1, max_length=4)
    username: Annotated[str, StringConstraints(max_length=128)] | None = None
    credential: Annotated[str, StringConstraints(max_length=256)] | None = None


_CALL_FIELDS_REQUIRED: dict[str, tuple[str, ...]] = {
    "request": ("terms_version", "privacy_version"),
    "offer": ("sdp",),
    "answer": ("sdp",),
    "assigned": ("operator_display_name",),
    "queued": ("queue_position",),
    "ended": ("reason",),
}


class CallMessage(Envelope):
    """Call set-up between kiosk (`call/up`) and cloud (`call/down`).

    The kiosk asks for a call (with the consent it recorded: versions only), is told its
    place in the queue, then which operator accepted; it sends its SDP offer (aiortc gathers
    every ICE candidate before the offer, so there is no trickle) and receives the
    operator's answer. Either side may end the call. Nothing here is personal data.
    """

    type: Literal["call"] = "call"
    call_id: UUID
    action: CallAction
    queue_position: int | None = Field(None, ge=0)
    estimated_wait_s: int | None = Field(None, ge=0)
    operator_display_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = (
        None
    )
    sdp: SdpText | None = None
    ice_servers: tuple[IceServer, ...] = Field((), max_length=4)
    language: Language | None = None
    terms_version: VersionText | None = None
    privacy_version: VersionText | None = None
    reason: CallEndReason | None = None

    @model_validator(mode="after")
    def _action_fields(self) -> CallMessage:
        missing = [
            name
            for name in _CALL_FIELDS_REQUIRED.get(self.action, ())
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"action '{self.action}' needs {', '.join(missing)}")
        return self


KioskMessage = Annotated[
    StateMessage
    | TelemetryMessage
    | EventMessage
    | CommandMessage
    | CommandResultMessage
    | ConfigMessage
    | CallMessage
    | LogBundleMessage
    | ScreenshotMessage
    | SiteCheckMessage,
    Field(discriminator="type"),
]

ALL_MESSAGES: tuple[type[Envelope], ...] = (
    StateMessage,
    TelemetryMessage,
    EventMessage,
    CommandMessage,
    CommandResultMessage,
    ConfigMessage,
    CallMessage,
    LogBundleMessage,
    ScreenshotMessage,
    SiteCheckMessage,
)


def utc_now() -> datetime:
    """The current time, timezone-aware, for `sent_at`."""
    from datetime import UTC

    return datetime.now(UTC)
