"""Grafana alert rules (file provisioning), next to the dashboards they watch.

The control plane's own alert evaluator (cloud/alerts/) knows opening hours and sends the
chat webhook; these rules give techs the same conditions in Grafana, over the time series,
with Grafana's notification policies, plus what only the time series has (uptime against its
target, the queue's wait, operators on duty against the open windows). Each rule is one
PromQL expression that returns a series only for kiosks or sites in trouble, plus Grafana's
threshold on it. Certificate expiry is not among them: it is in the enrollment records, not
in the time series.
"""

from __future__ import annotations

from typing import Any

from cloud.routing import metrics as routing
from dashboards.panels import DATASOURCE_UID
from dashboards.routing import QUEUE_WAIT_LIMIT_S
from dashboards.uptime import UPTIME_TARGET_PERCENT
from protocol.v1 import metrics


def _kiosk(field: str) -> str:
    return metrics.series(metrics.KIOSK, field)


def _latest(field: str, window: str = "5m") -> str:
    return f"max by (kiosk_id, site_id) (last_over_time({_kiosk(field)}[{window}]))"


def _uptime_series(field: str) -> str:
    return (
        f"max by (kiosk_id, site_id) (last_over_time({metrics.series(metrics.UPTIME, field)}[3m]))"
    )


def _site_uptime(window: str) -> str:
    up = metrics.series(metrics.UPTIME, metrics.UP)
    open_ = metrics.series(metrics.UPTIME, metrics.OPEN)
    return (
        f"sum by (site_id) (sum_over_time(({up} * {open_})[{window}:1m]))"
        f" / sum by (site_id) (sum_over_time({open_}[{window}:1m]))"
    )


def _routing_latest(measurement: str, field: str) -> str:
    return f"last_over_time({routing.series(measurement, field)}[2m])"


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
        "madoguchi-peripheral",
        "周辺機器の異常",
        'count by (kiosk_id, site_id) (last_over_time({__name__=~"kiosk_peripheral_.+_ok"}[5m])'
        " == 0)",
        "2m",
        "warning",
        "{{ $labels.kiosk_id }} の周辺機器 {{ $value }} 台が使えません",
    ),
    (
        # The uptime minutes: open, but not serviceable (offline, silent or card reader out).
        "madoguchi-kiosk-down-open",
        "開設時間中に端末が利用不可",
        f"({_uptime_series(metrics.OPEN)} * (1 - {_uptime_series(metrics.UP)})) > 0",
        "3m",
        "critical",
        "{{ $labels.kiosk_id }} が開設時間中に利用できません",
    ),
    (
        "madoguchi-uptime-target",
        "稼働率が目標未満（24時間）",
        f"({UPTIME_TARGET_PERCENT / 100} - ({_site_uptime('1d')})) > 0",
        "5m",
        "warning",
        f"{{{{ $labels.site_id }}}} の開設時間中の稼働率が目標 {UPTIME_TARGET_PERCENT:g}% を"
        "下回っています（24時間）",
    ),
    (
        "madoguchi-queue-wait",
        "呼び出しの待ち時間超過",
        f"max by (site_id) ({_routing_latest(routing.SITE, routing.OLDEST_WAIT_S)})"
        f" > {QUEUE_WAIT_LIMIT_S}",
        "1m",
        "critical",
        f"{{{{ $labels.site_id }}}} で住民が{QUEUE_WAIT_LIMIT_S // 60}分以上"
        "オペレータを待っています",
    ),
    (
        # What the open sites' windows need against the operators whose console takes calls
        # (the roster's view is the control plane's own `coverage_gap` alert).
        "madoguchi-operators-short",
        "オペレータ不足",
        f"(sum({_routing_latest(routing.SITE, routing.OPERATORS_NEEDED)})"
        f" - sum({_routing_latest(routing.OPERATORS, routing.ON_DUTY)})) > 0",
        "5m",
        "critical",
        "勤務中のオペレータが開設中の窓口数より {{ $value }} 人少ない状態です",
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
