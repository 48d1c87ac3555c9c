"""The dashboards: valid against Grafana 11.6's schema, and every panel's query answered by a
real VictoriaMetrics filled through the real ingest path."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cloud.fleet.models import Kiosk
from cloud.fleet.timeseries import TelemetryWriter
from cloud.fleet.uptime import uptime_point
from cloud.settings import TimeSeriesSettings
from dashboards.alerts import RULES
from dashboards.build import DASHBOARDS, dashboard_json
from protocol.v1 import HostHealth, NetworkHealth, Peripheral, TelemetryMessage
from tests.servers import VictoriaMetrics

SITE = "dash-site"  # this test's own site, apart from other tests' data in the shared store
SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared" / "grafana" / "dashboard-11.6.jsonschema.json"
)


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_dashboard_is_valid_for_grafana_11_6(name: str) -> None:
    assert SCHEMA.exists(), f"Grafana's schema is missing at {SCHEMA} (shared/grafana)"
    board = dashboard_json(name)
    board.pop("__inputs", None)
    if board.get("id") is None:
        board.pop("id", None)
    jsonschema.validate(board, json.loads(SCHEMA.read_text()))
    assert all(t.get("refId") for p in board["panels"] for t in p.get("targets", []))


def test_build_command_writes_dashboards_and_provisioning(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "madoguchi", "dashboards", "build", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    names = {Path(p).relative_to(tmp_path).as_posix() for p in out}
    assert names == {
        "dashboards/fleet.json",
        "dashboards/kiosk.json",
        "dashboards/uptime.json",
        "dashboards/routing.json",
        "provisioning/datasources/madoguchi.yaml",
        "provisioning/dashboards/madoguchi.yaml",
        "provisioning/alerting/madoguchi.yaml",
    }
    rules = yaml.safe_load((tmp_path / "provisioning/alerting/madoguchi.yaml").read_text())
    group = rules["groups"][0]
    assert rules["apiVersion"] == 1 and group["folder"] == "madoguchi"
    assert len({r["uid"] for r in group["rules"]}) == len(group["rules"]) >= 11
    for rule in group["rules"]:
        assert rule["condition"] == "B" and rule["data"][0]["datasourceUid"] == "madoguchi-vm"
    assert "madoguchi-vm" in (tmp_path / "provisioning/datasources/madoguchi.yaml").read_text()


def _reading(kiosk: str, seq: int, at: datetime, *, card_ok: bool) -> TelemetryMessage:
    return TelemetryMessage(
        kiosk_id=kiosk,
        sent_at=at,
        seq=seq,
        interval_s=10.0,
        host=HostHealth(
            cpu_percent=20.0 + seq,
            memory_percent=40.0,
            memory_used_bytes=1,
            disk_percent=55.0,
            disk_free_bytes=1,
            uptime_s=100.0,
            temperature_c=50.0,
        ),
        peripherals=(
            Peripheral(name="card_reader", status="ok" if card_ok else "error", simulated=True),
        ),
        network=NetworkHealth(broker_rtt_ms=8.0, link="ethernet", clock_synchronized=True),
        outbox_depth=3,
    )


def _instant(vm: VictoriaMetrics, expr: str, at: datetime) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr, "time": f"{at.timestamp():.3f}"})
    with urllib.request.urlopen(f"{vm.url}/api/v1/query?{query}", timeout=30) as reply:  # noqa: S310
        body = json.loads(reply.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def test_every_panel_query_returns_the_ingested_data(
    victoria_metrics: VictoriaMetrics,
) -> None:
    writer = TelemetryWriter(
        TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.1)
    )
    writer.start()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Two kiosks, readings over the last three minutes; dash-k2's card reader is failing.
    for kiosk, card_ok in (("dash-k1", True), ("dash-k2", False)):
        for i in range(6):
            await writer.write(
                _reading(kiosk, i + 1, now - timedelta(seconds=150 - 30 * i), card_ok=card_ok),
                site_id="city-hall",
            )
    # One hour of uptime minutes: all open; dash-k1 up 60/60, dash-k2 up 45/60.
    for kiosk_id, down_from in (("dash-k1", 60), ("dash-k2", 45)):
        kiosk = Kiosk(kiosk_id=kiosk_id, site_id=SITE)
        for minute in range(60):
            at = now - timedelta(minutes=59 - minute)
            await writer.write_point(
                uptime_point(kiosk, minute=at, up=minute < down_from, open_now=True), at
            )
    await writer.stop()
    victoria_metrics.export('{__name__="kiosk_seq"}')  # flushes VictoriaMetrics' buffers

    checked = 0
    # The uptime and routing dashboards are checked value by value in test_uptime_routing.py.
    for name in ("fleet", "kiosk"):
        for panel in dashboard_json(name)["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$kiosk", "dash-k2").replace("$__range", "1h")
                result = _instant(victoria_metrics, expr, now + timedelta(seconds=30))
                assert result, f"{name} / {panel['title']}: no data for {expr}"
                checked += 1
    assert checked >= 15

    # The alert rules' queries: valid, and only the kiosk in trouble (dash-k2's card reader)
    # comes back; the healthy readings fire nothing. (The uptime and routing rules are checked
    # in test_uptime_routing.py; dash-site's uptime minutes here fire no kiosk rule.)
    fired = {}
    for uid, _title, expr, *_ in RULES:
        fired[uid] = {  # the store is shared with other tests: look at this test's kiosks
            kiosk
            for r in _instant(victoria_metrics, expr, now + timedelta(seconds=30))
            if (kiosk := r["metric"].get("kiosk_id", "")).startswith("dash-")
        }
    assert fired.pop("madoguchi-card-reader") == {"dash-k2"}
    assert fired.pop("madoguchi-peripheral") == {"dash-k2"}
    # dash-k2 was down for its last 15 open minutes (up 45 of 60).
    assert fired.pop("madoguchi-kiosk-down-open") == {"dash-k2"}
    assert all(not kiosks for kiosks in fired.values()), fired

    uptime = {
        r["metric"]["site_id"]: float(r["value"][1])
        for r in _instant(
            victoria_metrics,
            dashboard_json("fleet")["panels"][2]["targets"][0]["expr"].replace("$__range", "1h"),
            now + timedelta(seconds=30),
        )
    }
    assert uptime[SITE] == pytest.approx(105 / 120, abs=0.02)
    failing = _instant(
        victoria_metrics,
        'count by (kiosk_id) ({__name__=~"kiosk_peripheral_.+_ok"} == 0)',
        now + timedelta(seconds=30),
    )
    # The store is shared with other tests: look only at this test's kiosks.
    assert [
        r["metric"]["kiosk_id"] for r in failing if r["metric"]["kiosk_id"].startswith("dash-")
    ] == ["dash-k2"]
