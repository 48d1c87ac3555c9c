"""Names of the time series the control plane writes (influx line protocol: measurement +
fields; VictoriaMetrics and Prometheus see them as `{measurement}_{field}`). The dashboards
are built from these names, so a rename breaks a test, not a panel."""

from __future__ import annotations

KIOSK = "kiosk"  # one point per telemetry reading, at the reading's own time
UPTIME = "kiosk_uptime"  # one point per kiosk and minute, written by the control plane

HOST_FIELDS = (
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "temperature_c",
    "uptime_s",
    "load_1m",
)
NETWORK_FIELDS = ("broker_rtt_ms", "clock_synchronized", "outbox_depth")
PERIPHERALS = ("card_reader", "tenkey", "face_camera", "document_scanner", "headset")


def series(measurement: str, field: str) -> str:
    """The Prometheus-style metric name of a field."""
    return f"{measurement}_{field}"


def peripheral_ok_field(name: str) -> str:
    return f"peripheral_{name}_ok"


UP = "up"  # 1 when the kiosk was serviceable in that minute, 0 otherwise (never missing)
OPEN = "open"  # 1 when the site's calendar had it open in that minute
