"""Uptime during opening hours: Σ(up·open)/Σ(open) per site and kiosk, against a target.

The control plane writes `kiosk_uptime_up` and `kiosk_uptime_open` for every kiosk and minute
(cloud/fleet/uptime.py), so a closed minute weighs nothing, whatever the kiosk did, and a
silent kiosk's minute is a 0, never a gap. The specification sets no availability figure
(the windows are to be reachable at all times during opening hours), so the target is a
dashboard variable; the alert rule uses its default.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import VariableOption

from dashboards.panels import (
    below_is_bad,
    series_panel,
    site_variable,
    stat_panel,
    table_panel,
)
from protocol.v1 import metrics

UPTIME_TARGET_PERCENT = 99.0  # default of the `target` variable and the alert's threshold

SITES = '{site_id=~"$site"}'
UP = metrics.series(metrics.UPTIME, metrics.UP) + SITES
OPEN = metrics.series(metrics.UPTIME, metrics.OPEN) + SITES
SERVICEABLE = f"({UP} * {OPEN})"  # 1 in a minute that was open and served


def minutes(expr: str, by: str, window: str = "$__range") -> str:
    """Kiosk-minutes in the window: a 1-minute subquery over the per-minute points."""
    return f"sum{by} (sum_over_time({expr}[{window}:1m]))"


def uptime(by: str, window: str = "$__range") -> str:
    return f"{minutes(SERVICEABLE, by, window)} / {minutes(OPEN, by, window)}"


def uptime_dashboard() -> dashboard.Dashboard:
    target = (
        dashboard.TextBoxVariable("target")
        .label("Target uptime (%)")
        .default_value(f"{UPTIME_TARGET_PERCENT:g}")
        .current(
            VariableOption(
                text=f"{UPTIME_TARGET_PERCENT:g}", value=f"{UPTIME_TARGET_PERCENT:g}", selected=True
            )
        )
        .description("The availability the city expects; the specification sets no figure")
    )
    colors = below_is_bad(UPTIME_TARGET_PERCENT / 100)
    by_site, by_kiosk = " by (site_id)", " by (kiosk_id, site_id)"
    return (
        dashboard.Dashboard("madoguchi — 開設時間中の稼働率 (uptime)")
        .uid("madoguchi-uptime")
        .tags(["madoguchi"])
        .refresh("1m")
        .time("now-7d", "now")
        .timezone("Asia/Tokyo")
        .with_variable(site_variable(metrics.series(metrics.UPTIME, metrics.OPEN)))
        .with_variable(target)
        .with_panel(
            stat_panel("Uptime during opening hours", uptime(""), unit="percentunit", colors=colors)
        )
        .with_panel(
            stat_panel(
                "Kiosk-minutes lost during opening hours",
                minutes(f"({OPEN} * (1 - {UP}))", ""),
                unit="none",
            )
        )
        .with_panel(stat_panel("Kiosk-minutes open", minutes(OPEN, ""), unit="none", width=6))
        .with_panel(stat_panel("Target", "vector($target / 100)", unit="percentunit"))
        .with_panel(
            table_panel(
                "Uptime by site",
                {
                    "A": uptime(by_site),
                    "B": minutes(SERVICEABLE, by_site),
                    "C": minutes(OPEN, by_site),
                },
                width=12,
                merge=True,
            )
        )
        .with_panel(
            table_panel(
                "Uptime by kiosk",
                {
                    "A": uptime(by_kiosk),
                    "B": minutes(SERVICEABLE, by_kiosk),
                    "C": minutes(OPEN, by_kiosk),
                },
                width=12,
                merge=True,
            )
        )
        .with_panel(
            series_panel(
                "Kiosks open vs serviceable",
                {
                    "A": (f"sum by (site_id) ({OPEN})", "{{site_id}} open"),
                    "B": (f"sum by (site_id) {SERVICEABLE}", "{{site_id}} serviceable"),
                },
                unit="none",
                width=24,
            )
        )
        .with_panel(
            series_panel(
                "Uptime by site over the past hour, against the target",
                {
                    "A": (uptime(by_site, "1h"), "{{site_id}}"),
                    "B": ("vector($target / 100)", "target"),
                },
                unit="percentunit",
                width=24,
                line_at=colors,
            )
        )
    )
