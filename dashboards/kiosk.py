"""One kiosk in detail: host health, network, peripherals, uptime minutes."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.panels import DATASOURCE, series_panel
from protocol.v1 import metrics

SELECT = '{kiosk_id="$kiosk"}'


def _kiosk(field: str) -> str:
    return metrics.series(metrics.KIOSK, field) + SELECT


def kiosk_detail() -> dashboard.Dashboard:
    kiosk_variable = (
        dashboard.QueryVariable("kiosk")
        .label("Kiosk")
        .datasource(DATASOURCE)
        .query(f"label_values({metrics.series(metrics.KIOSK, 'cpu_percent')}, kiosk_id)")
    )
    return (
        dashboard.Dashboard("madoguchi — 端末詳細 (kiosk)")
        .uid("madoguchi-kiosk")
        .tags(["madoguchi"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("Asia/Tokyo")
        .with_variable(kiosk_variable)
        .with_panel(series_panel("CPU", _kiosk("cpu_percent"), unit="percent"))
        .with_panel(series_panel("Memory", _kiosk("memory_percent"), unit="percent"))
        .with_panel(series_panel("Disk used", _kiosk("disk_percent"), unit="percent"))
        .with_panel(series_panel("Temperature", _kiosk("temperature_c"), unit="celsius"))
        .with_panel(series_panel("Broker round trip", _kiosk("broker_rtt_ms"), unit="ms"))
        .with_panel(
            series_panel("Clock synchronised", _kiosk("clock_synchronized"), unit="bool_yes_no")
        )
        .with_panel(
            series_panel(
                "Peripherals OK",
                '{__name__=~"kiosk_peripheral_.+_ok",kiosk_id="$kiosk"}',
                unit="bool_yes_no",
                legend="{{__name__}}",
            )
        )
        .with_panel(
            series_panel(
                "Serviceable minutes (during opening hours)",
                f"{metrics.series(metrics.UPTIME, metrics.UP)}{SELECT}"
                f" * {metrics.series(metrics.UPTIME, metrics.OPEN)}{SELECT}",
                unit="bool_yes_no",
            )
        )
    )
