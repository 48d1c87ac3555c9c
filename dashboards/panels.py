"""Shared pieces: the data source, and small panel builders with our defaults."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    Threshold,
    ThresholdsMode,
    VariableOption,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE_UID = "madoguchi-vm"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


def query(
    expr: str, *, legend: str = "", ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).ref_id(ref).legend_format(legend or "__auto")
    return target.instant() if instant else target.range()


# Grafana takes the first step as the base (−∞) whatever its value; the 11.6 schema wants a
# number there, not the null that Grafana itself exports.
BASE = 0.0


def below_is_bad(limit: float) -> dashboard.ThresholdsConfig:
    """Red under `limit`, green from it (uptime against its target)."""
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=BASE, color="red"), Threshold(value=limit, color="green")])
    )


def above_is_bad(limit: float) -> dashboard.ThresholdsConfig:
    """Green under `limit`, red from it (waits, shortfalls)."""
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=BASE, color="green"), Threshold(value=limit, color="red")])
    )


def series_panel(
    title: str,
    expr: str | Mapping[str, tuple[str, str]],
    *,
    unit: str,
    legend: str = "{{kiosk_id}}",
    width: int = 12,
    line_at: dashboard.ThresholdsConfig | None = None,
) -> timeseries.Panel:
    """One query, or several as {ref: (expr, legend)}; `line_at` draws a dashed line."""
    panel = timeseries.Panel().title(title).datasource(DATASOURCE).unit(unit).span(width).height(8)
    targets = {"A": (expr, legend)} if isinstance(expr, str) else expr
    for ref, (text, legend_format) in targets.items():
        panel = panel.with_target(query(text, legend=legend_format, ref=ref))
    if line_at is not None:
        panel = panel.thresholds(line_at).thresholds_style(
            GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    return panel


def stat_panel(
    title: str,
    expr: str,
    *,
    unit: str,
    width: int = 6,
    colors: dashboard.ThresholdsConfig | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .with_target(query(expr, instant=True))
        .span(width)
        .height(5)
    )
    return panel.thresholds(colors) if colors is not None else panel


def table_panel(
    title: str,
    targets: dict[str, str],
    *,
    width: int = 24,
    unit: str | None = None,
    merge: bool = False,
) -> table.Panel:
    """Instant queries as table frames; `merge` joins them on their labels into one row per
    series (a kiosk, a site)."""
    panel = table.Panel().title(title).datasource(DATASOURCE).span(width).height(10)
    for ref, expr in targets.items():
        panel = panel.with_target(query(expr, ref=ref, instant=True).format(PromQueryFormat.TABLE))
    if unit is not None:
        panel = panel.unit(unit)
    if merge:
        panel = panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    return panel


def site_variable(metric: str) -> dashboard.QueryVariable:
    """Sites to show (all by default), from the sites that have `metric`."""
    return (
        dashboard.QueryVariable("site")
        .label("Site")
        .datasource(DATASOURCE)
        .query(f"label_values({metric}, site_id)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(text="All", value="$__all", selected=True))
    )
