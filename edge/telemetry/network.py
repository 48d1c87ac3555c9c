"""Network health: round-trip time to the broker, the uplink type, clock synchronisation."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Literal

LinkType = Literal["ethernet", "wifi", "cellular", "other", "unknown"]


class RoundTrips:
    """Publish-to-PUBACK times of recent QoS 1 messages: the RTT to the broker as the
    kiosk's own traffic sees it (no extra probe packets)."""

    def __init__(self, *, keep: int = 50) -> None:
        self._samples: deque[float] = deque(maxlen=keep)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def median_ms(self) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        return round(ordered[len(ordered) // 2] * 1000, 1)


def default_route_interface(route_file: Path = Path("/proc/net/route")) -> str | None:
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":  # destination 0.0.0.0
            return fields[0]
    return None


def link_type(interface: str | None, sys_net: Path = Path("/sys/class/net")) -> LinkType:
    if interface is None:
        return "unknown"
    if (sys_net / interface / "wireless").exists() or interface.startswith(("wl", "wlan")):
        return "wifi"
    if interface.startswith(("wwan", "usb", "ppp")):
        return "cellular"
    if interface.startswith(("eth", "en")):
        return "ethernet"
    return "other"


def clock_synchronized() -> bool | None:
    """systemd-timesyncd/chrony via systemd leave this flag file; None if we cannot tell."""
    flag = Path("/run/systemd/timesync/synchronized")
    if flag.exists():
        return True
    return False if os.path.isdir("/run/systemd/timesync") else None
