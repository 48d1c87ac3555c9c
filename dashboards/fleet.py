"""Fleet overview: how many kiosks are up, uptime during opening hours, health at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.panels import series_panel, stat_panel, table_panel
from protocol.v1 import metrics

UP = metrics.series(metrics.UPTIME, metrics.UP)
OPEN = metrics.series(metrics.UPTIME, metrics.OPEN)


def _kiosk(field: str) -> str:
    return metrics.series(metrics.KIOSK, field)


def _latest(field: str) -> str:
    return f"max by (kiosk_id, site_id) (last_over_time({_kiosk(field)}[5m]))"


# Σ(up·open)/Σ(open) over the dashboard's range, per site: only opening minutes count, and
# a minute with no heartbeat was written as up=0, so silence is never counted as uptime.
UPTIME_DURING_OPENING = (
    f"sum by (site_id) (sum_over_time(({UP} * {OPEN})[$__range:1m]))"
    f" / sum by (site_id) (sum_over_time({OPEN}[$__range:1m]))"
)


def fleet_overview() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("madoguchi — 端末の稼働状況 (fleet)")
        .uid("madoguchi-fleet")
        .tags(["madoguchi"])
        .refresh("30s")
        .time("now-24h", "now")
        .timezone("Asia/Tokyo")
        .with_panel(
            stat_panel("Kiosks serviceable now", f"sum(last_over_time({UP}[2m]))", unit="none")
        )
        .with_panel(stat_panel("Kiosks reporting", f"count(last_over_time({UP}[2m]))", unit="none"))
        .with_panel(
            stat_panel(
                "Uptime during opening hours", UPTIME_DURING_OPENING, unit="percentunit", width=12
            )
        )
        .with_panel(
            table_panel(
                "Health by kiosk",
                {
                    ref: _latest(field)
                    for ref, field in zip(
                        "ABCD",
                        ("cpu_percent", "disk_percent", "broker_rtt_ms", "outbox_depth"),
                        strict=True,
                    )
                },
            )
        )
        .with_panel(
            series_panel(
                "Peripherals not OK",
                'count by (kiosk_id) ({__name__=~"kiosk_peripheral_.+_ok"} == 0)',
                unit="none",
            )
        )
        .with_panel(series_panel("Broker round trip", _kiosk("broker_rtt_ms"), unit="ms"))
        .with_panel(series_panel("Waiting messages (outbox)", _kiosk("outbox_depth"), unit="none"))
        .with_panel(series_panel("Disk used", _kiosk("disk_percent"), unit="percent"))
    )
