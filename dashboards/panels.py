"""Shared pieces: the data source, and small panel builders with our defaults."""

from __future__ import annotations

from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE_UID = "madoguchi-vm"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


def query(
    expr: str, *, legend: str = "", ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).ref_id(ref).legend_format(legend or "__auto")
    return target.instant() if instant else target.range()


def series_panel(
    title: str, expr: str, *, unit: str, legend: str = "{{kiosk_id}}", width: int = 12
) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .with_target(query(expr, legend=legend))
        .span(width)
        .height(8)
    )


def stat_panel(title: str, expr: str, *, unit: str, width: int = 6) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .with_target(query(expr, instant=True))
        .span(width)
        .height(5)
    )


def table_panel(title: str, targets: dict[str, str], *, width: int = 24) -> table.Panel:
    panel = table.Panel().title(title).datasource(DATASOURCE).span(width).height(10)
    for ref, expr in targets.items():
        panel = panel.with_target(query(expr, ref=ref, instant=True).format(PromQueryFormat.TABLE))
    return panel
