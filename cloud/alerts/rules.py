"""The alert conditions, as pure functions of the registry's view of a kiosk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field


class AlertThresholds(BaseModel):
    disk_percent: float = Field(90.0, gt=0, le=100)
    temperature_c: float = Field(80.0, gt=0)
    clock_skew_s: float = Field(5.0, gt=0)
    unresponsive_after_s: float = Field(90.0, gt=0, description="Online but silent this long")
    call_loss_percent: float = Field(5.0, gt=0, le=100)
    call_rtt_ms: float = Field(400.0, gt=0)
    call_video_level: int = Field(3, ge=1, description="Video stepped down this far (0 = full)")


class KioskView(Protocol):
    kiosk_id: str
    site_id: str
    status: str
    last_seen_at: datetime
    host: dict[str, Any] | None
    peripherals: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Condition:
    kiosk_id: str
    site_id: str
    kind: str
    severity: str
    detail: str


def conditions(
    kiosk: KioskView, *, now: datetime, open_now: bool, thresholds: AlertThresholds
) -> list[Condition]:
    """What is wrong with `kiosk` now. Offline and silence count only during opening hours;
    hardware conditions count at any time (a tech may fix them before opening)."""
    found: list[Condition] = []

    def add(kind: str, severity: str, detail: str) -> None:
        found.append(Condition(kiosk.kiosk_id, kiosk.site_id, kind, severity, detail[:200]))

    if kiosk.status == "offline":
        if open_now:
            add("kiosk_offline", "critical", "端末がオフラインです（開設時間中）")
    elif open_now and now - kiosk.last_seen_at > timedelta(seconds=thresholds.unresponsive_after_s):
        add(
            "kiosk_unresponsive",
            "critical",
            f"{int((now - kiosk.last_seen_at).total_seconds())} 秒間応答がありません",
        )
    for peripheral in kiosk.peripherals:
        if peripheral.get("status") in {"error", "absent"}:
            add(
                f"peripheral_{peripheral['name']}",
                "warning",
                f"周辺機器 {peripheral['name']} の状態: {peripheral['status']}",
            )
    host = kiosk.host or {}
    disk = host.get("disk_percent")
    if isinstance(disk, int | float) and disk >= thresholds.disk_percent:
        add("disk_nearly_full", "warning", f"ディスク使用率 {disk:.0f}%")
    temperature = host.get("temperature_c")
    if isinstance(temperature, int | float) and temperature >= thresholds.temperature_c:
        add("high_temperature", "warning", f"温度 {temperature:.0f}℃")
    call = host.get("call")
    if isinstance(call, dict):
        loss = call.get("loss_percent") or 0.0
        rtt = call.get("rtt_ms") or 0.0
        level = call.get("video_level") or 0
        if (
            loss >= thresholds.call_loss_percent
            or rtt >= thresholds.call_rtt_ms
            or level >= thresholds.call_video_level
        ):
            add(
                "call_quality_poor",
                "warning",
                f"通話品質の低下（パケット損失 {loss:.1f}%、RTT {rtt:.0f} ms、映像レベル {level}）",
            )
    skew = host.get("clock_offset_s")
    if isinstance(skew, int | float) and abs(skew) >= thresholds.clock_skew_s:
        add("clock_skew", "warning", f"時刻のずれ {skew:+.1f} 秒")
    return found
