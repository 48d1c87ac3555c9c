"""Queries to VictoriaMetrics as Grafana's Prometheus data source sends them."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from tests.servers import VictoriaMetrics

Values = dict[tuple[tuple[str, str], ...], float]


def _get(vm: VictoriaMetrics, path: str, params: dict[str, str] | list[tuple[str, str]]) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{vm.url}{path}?{query}", timeout=30) as reply:  # noqa: S310
        body = json.loads(reply.read())
    assert body["status"] == "success", body
    return body["data"]


def instant(vm: VictoriaMetrics, expr: str, at: datetime) -> list[dict[str, Any]]:
    data = _get(vm, "/api/v1/query", {"query": expr, "time": f"{at.timestamp():.3f}"})
    result: list[dict[str, Any]] = data["result"]
    return result


def query_range(
    vm: VictoriaMetrics, expr: str, start: datetime, end: datetime, step_s: int = 60
) -> dict[datetime, Values]:
    """A range query (a time-series panel), as {time: {labels: value}}."""
    data = _get(
        vm,
        "/api/v1/query_range",
        {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s}s",
        },
    )
    frames: dict[datetime, Values] = {}
    for series in data["result"]:
        key = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        for stamp, value in series["values"]:
            frames.setdefault(datetime.fromtimestamp(stamp, UTC), {})[key] = float(value)
    return frames


def label_values(vm: VictoriaMetrics, label: str, metric: str) -> list[str]:
    """Grafana's `label_values(metric, label)` variable query."""
    values: list[str] = _get(vm, f"/api/v1/label/{label}/values", [("match[]", metric)])
    return values
