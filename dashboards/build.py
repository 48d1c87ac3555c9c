"""Dashboards and Grafana provisioning files, written to a directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.alerts import alert_rules
from dashboards.fleet import fleet_overview
from dashboards.kiosk import kiosk_detail
from dashboards.panels import DATASOURCE_UID
from dashboards.routing import routing_dashboard
from dashboards.uptime import uptime_dashboard

DASHBOARDS = {
    "fleet": fleet_overview,
    "kiosk": kiosk_detail,
    "uptime": uptime_dashboard,
    "routing": routing_dashboard,
}


def dashboard_json(name: str) -> dict[str, Any]:
    built = DASHBOARDS[name]().build()
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(built))
    return data


def build(out_dir: Path, *, victoria_metrics_url: str = "http://127.0.0.1:8428") -> list[Path]:
    """`dashboards/*.json` plus `provisioning/{datasources,dashboards}/madoguchi.yaml`."""
    written = []
    board_dir = out_dir / "dashboards"
    board_dir.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        path = board_dir / f"{name}.json"
        path.write_text(
            json.dumps(dashboard_json(name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(path)
    datasources = out_dir / "provisioning" / "datasources" / "madoguchi.yaml"
    datasources.parent.mkdir(parents=True, exist_ok=True)
    datasources.write_text(
        "apiVersion: 1\n"
        "datasources:\n"
        "  - name: madoguchi VictoriaMetrics\n"
        "    type: prometheus\n"
        f"    uid: {DATASOURCE_UID}\n"
        "    access: proxy\n"
        f"    url: {victoria_metrics_url}\n"
        "    isDefault: true\n",
        encoding="utf-8",
    )
    alerting = out_dir / "provisioning" / "alerting" / "madoguchi.yaml"
    alerting.parent.mkdir(parents=True, exist_ok=True)
    alerting.write_text(
        yaml.safe_dump(alert_rules(), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    written.append(alerting)
    providers = out_dir / "provisioning" / "dashboards" / "madoguchi.yaml"
    providers.parent.mkdir(parents=True, exist_ok=True)
    providers.write_text(
        "apiVersion: 1\n"
        "providers:\n"
        "  - name: madoguchi\n"
        "    folder: madoguchi\n"
        "    type: file\n"
        "    disableDeletion: true\n"
        "    options:\n"
        f"      path: {board_dir.resolve()}\n",
        encoding="utf-8",
    )
    return [*written, datasources, providers]
