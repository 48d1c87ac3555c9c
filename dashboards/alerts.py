"""Grafana alert rules (file provisioning), next to the dashboards they watch.

The control plane's own alert evaluator (cloud/alerts/) knows opening hours and sends the
chat webhook; these rules give techs the same conditions in Grafana, over the time series,
with Grafana's notification policies. Each rule is one PromQL expression that returns a
series only for kiosks in trouble, plus Grafana's threshold on it.
"""

from __future__ import annotations

from typing import Any

from dashboards.panels import DATASOURCE_UID
from protocol.v1 import metrics


def _kiosk(field: str) -> str:
    return metrics.series(metrics.KIOSK, field)


def _latest(field: str, window: str = "5m") -> str:
    return f"max by (kiosk_id, site_id) (last_over_time({_kiosk(field)}[{window}]))"


# (uid, title, expr, for, severity, summary). The expression's value is compared with > 0.
RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "madoguchi-kiosk-silent",
        "端末からの受信が途絶",
        # MetricsQL's tlast_over_time: when the kiosk's last reading arrived (within a day).
        f"(time() - max by (kiosk_id, site_id) (tlast_over_time({_kiosk('seq')}[1d]))) > 120",
        "2m",
        "critical",
        "{{ $labels.kiosk_id }} から2分以上テレメトリが届いていません",
    ),
    (
        "madoguchi-disk",
        "ディスク使用率",
        f"{_latest('disk_percent')} > 90",
        "10m",
        "warning",
        "{{ $labels.kiosk_id }} のディスク使用率が90%を超えています",
    ),
    (
        "madoguchi-temperature",
        "端末温度",
        f"{_latest('temperature_c')} > 80",
        "5m",
        "warning",
        "{{ $labels.kiosk_id }} の温度が80℃を超えています",
    ),
    (
        "madoguchi-card-reader",
        "カードリーダー異常",
        f"({_latest(metrics.peripheral_ok_field('card_reader'))} == 0) + 1",
        "1m",
        "warning",
        "{{ $labels.kiosk_id }} のカードリーダーが使えません",
    ),
    (
        "madoguchi-call-quality",
        "通話品質の低下",
        f"{_latest('call_loss_percent', '2m')} > 5",
        "1m",
        "warning",
        "{{ $labels.kiosk_id }} の通話でパケット損失が5%を超えています",
    ),
    (
        "madoguchi-backlog",
        "送信待ちの滞留",
        f"{_latest('outbox_depth')} > 1000",
        "15m",
        "warning",
        "{{ $labels.kiosk_id }} に送信待ちのメッセージが1000件以上あります",
    ),
)


def _rule(
    uid: str, title: str, expr: str, pending: str, severity: str, summary: str
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {"refId": "A", "expr": expr, "instant": True},
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [{"evaluator": {"type": "gt", "params": [0]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": pending,
        "labels": {"severity": severity, "service": "madoguchi"},
        "annotations": {"summary": summary},
    }


def alert_rules() -> dict[str, Any]:
    """Grafana's alerting provisioning document (`provisioning/alerting/*.yaml`)."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "madoguchi-kiosks",
                "folder": "madoguchi",
                "interval": "1m",
                "rules": [_rule(*rule) for rule in RULES],
            }
        ],
    }
