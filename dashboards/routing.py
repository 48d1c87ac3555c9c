"""Routing: the queue per site, the time to answer, calls per hour, abandoned calls, and the
operators on duty against the operators the open sites need.

The series come from cloud/routing/metrics.py (written by the control plane each minute and
per call leaving the queue); training kiosks, training calls and operators in 研修モード are
left out where they are written, so no query here needs to exclude them.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from cloud.routing import metrics as routing
from dashboards.panels import above_is_bad, series_panel, site_variable, stat_panel, table_panel

QUEUE_WAIT_LIMIT_S = 300  # a resident waiting longer than this: the alert and the red line

SITES = 'site_id=~"$site"'
WAITING = f"{routing.series(routing.SITE, routing.WAITING)}{{{SITES}}}"
OLDEST = f"{routing.series(routing.SITE, routing.OLDEST_WAIT_S)}{{{SITES}}}"
IN_CALL = f"{routing.series(routing.SITE, routing.IN_CALL)}{{{SITES}}}"
# Operators serve every site's windows: what all open sites need, whatever is selected.
NEEDED = routing.series(routing.SITE, routing.OPERATORS_NEEDED)
ON_DUTY = routing.series(routing.OPERATORS, routing.ON_DUTY)
ON_SHIFT = routing.series(routing.OPERATORS, routing.ON_SHIFT)
WAIT = routing.series(routing.CALL, routing.WAIT_S)


def _calls(outcome: str | None = None) -> str:
    selector = SITES if outcome is None else f'{SITES},outcome="{outcome}"'
    return f"{WAIT}{{{selector}}}"


def count(outcome: str | None, by: str, window: str = "$__range") -> str:
    return f"sum{by} (count_over_time({_calls(outcome)}[{window}]))"


def wait_quantile(phi: float, by: str = " by (site_id)", window: str = "$__range") -> str:
    """Time to answer: quantile of the answered calls' waits in the window."""
    return f"max{by} (quantile_over_time({phi}, {_calls(routing.ANSWERED)}[{window}]))"


def routing_dashboard() -> dashboard.Dashboard:
    wait_colors = above_is_bad(QUEUE_WAIT_LIMIT_S)
    by_site = " by (site_id)"
    return (
        dashboard.Dashboard("madoguchi — 呼び出しと待ち時間 (routing)")
        .uid("madoguchi-routing")
        .tags(["madoguchi"])
        .refresh("30s")
        .time("now-24h", "now")
        .timezone("Asia/Tokyo")
        .with_variable(site_variable(routing.series(routing.SITE, routing.OPEN)))
        .with_panel(
            stat_panel("Waiting now", f"sum(last_over_time({WAITING}[2m]))", unit="none", width=4)
        )
        .with_panel(
            stat_panel(
                "Longest wait now",
                f"max(last_over_time({OLDEST}[2m]))",
                unit="s",
                width=4,
                colors=wait_colors,
            )
        )
        .with_panel(stat_panel("Calls answered", count(routing.ANSWERED, ""), unit="none", width=4))
        .with_panel(
            stat_panel("Calls abandoned", count(routing.ABANDONED, ""), unit="none", width=4)
        )
        .with_panel(
            stat_panel(
                "Abandoned share",
                f"{count(routing.ABANDONED, '')} / {count(None, '')}",
                unit="percentunit",
                width=4,
            )
        )
        .with_panel(
            stat_panel(
                "Operators short now",
                f"clamp_min(sum(last_over_time({NEEDED}[2m]))"
                f" - sum(last_over_time({ON_DUTY}[2m])), 0)",
                unit="none",
                width=4,
                colors=above_is_bad(1),
            )
        )
        .with_panel(
            table_panel(
                "Time to answer by site",
                {
                    "A": wait_quantile(0.5),
                    "B": wait_quantile(0.9),
                    "C": count(routing.ANSWERED, by_site),
                    "D": count(routing.ABANDONED, by_site),
                },
                merge=True,
            )
        )
        .with_panel(
            series_panel(
                "Queue length by site",
                {
                    "A": (f"max by (site_id) ({WAITING})", "{{site_id}} waiting"),
                    "B": (f"max by (site_id) ({IN_CALL})", "{{site_id}} in a call"),
                },
                unit="none",
            )
        )
        .with_panel(
            series_panel(
                "Longest wait in the queue",
                f"max by (site_id) ({OLDEST})",
                unit="s",
                legend="{{site_id}}",
                line_at=wait_colors,
            )
        )
        .with_panel(
            series_panel(
                "Time to answer (last hour)",
                {
                    "A": (wait_quantile(0.5, window="1h"), "{{site_id}} median"),
                    "B": (wait_quantile(0.9, window="1h"), "{{site_id}} p90"),
                },
                unit="s",
                line_at=wait_colors,
            )
        )
        .with_panel(
            series_panel(
                "Calls per hour",
                {
                    "A": (count(routing.ANSWERED, by_site, "1h"), "{{site_id}} answered"),
                    "B": (count(routing.ABANDONED, by_site, "1h"), "{{site_id}} abandoned"),
                },
                unit="none",
            )
        )
        .with_panel(
            series_panel(
                "Operators on duty vs needed",
                {
                    "A": (f"sum({NEEDED})", "needed (windows of open sites)"),
                    "B": (f"sum({ON_DUTY})", "on duty (console, not away)"),
                    "C": (f"sum({ON_SHIFT})", "on shift (roster)"),
                },
                unit="none",
            )
        )
    )
