"""Alerts: the rules, de-duplication, recovery notices, and delivery to a real HTTP webhook
(retried while the receiver is down)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from cloud.alerts.evaluator import AlertEvaluator
from cloud.alerts.models import Alert
from cloud.alerts.notifier import WebhookNotifier
from cloud.alerts.rules import AlertThresholds
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.fleet.models import Kiosk
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import NOW, apply, state


class Receiver:
    """A chat-style incoming webhook on loopback that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    self.send_response(503)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()


async def set_host(cloud: Cloud, kiosk_id: str, **host: object) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        kiosk = await db.get(Kiosk, kiosk_id)
        assert kiosk is not None
        kiosk.host = {"cpu_percent": 1.0, "disk_percent": 10.0, **host}


class FixedHours:
    """Open or closed all the time, to test the rules apart from the calendar."""

    def __init__(self, open_now: bool) -> None:
        self.open_now = open_now

    async def refresh(self, *, db: object, now: datetime) -> None:
        return None

    def __call__(self, _site_id: str, _now: datetime) -> bool:
        return self.open_now


def evaluator(cloud: Cloud, url: str, *, open_now: bool = True) -> AlertEvaluator:
    return AlertEvaluator(
        sessions=cloud.app.state.sessions,
        notifier=WebhookNotifier(url),
        thresholds=AlertThresholds(),
        is_open=FixedHours(open_now),
    )


async def test_alerts_fire_once_recover_and_reach_the_webhook(
    cloud: Cloud, receiver: Receiver
) -> None:
    await apply(cloud, state("online", 1, kiosk="al-k1"))
    await set_host(cloud, "al-k1", disk_percent=95.0, temperature_c=85.0, clock_offset_s=-7.5)
    alerts = evaluator(cloud, receiver.url)
    now = NOW + timedelta(seconds=5)
    assert await alerts.evaluate(now=now) == (3, 0)
    assert await alerts.evaluate(now=now) == (0, 0)  # still true: no second alert
    kinds = sorted(str(m["kind"]) for m in receiver.received)
    assert kinds == ["clock_skew", "disk_nearly_full", "high_temperature"]
    assert all(m["event"] == "firing" for m in receiver.received)
    assert "ディスク使用率 95%" in str(receiver.received)

    await set_host(cloud, "al-k1", disk_percent=40.0, temperature_c=50.0, clock_offset_s=0.2)
    assert await alerts.evaluate(now=now) == (0, 3)
    resolved = [m for m in receiver.received if m["event"] == "resolved"]
    assert len(resolved) == 3 and all(m["resolved_at"] for m in resolved)
    assert all("復旧" in str(m["text"]) for m in resolved)


async def test_offline_and_silent_kiosks_alert_only_when_open(
    cloud: Cloud, receiver: Receiver
) -> None:
    await apply(cloud, state("online", 1, kiosk="al-k2"))
    await apply(cloud, state("online", 1, kiosk="al-k3"))
    await apply(cloud, state("offline", 1, will=True, kiosk="al-k3"))
    later = NOW + timedelta(minutes=10)  # al-k2 has been silent for 10 minutes
    closed = evaluator(cloud, receiver.url, open_now=False)
    assert await closed.evaluate(now=later) == (0, 0)
    opened = evaluator(cloud, receiver.url, open_now=True)
    assert await opened.evaluate(now=later) == (2, 0)
    assert {(m["kiosk_id"], m["kind"]) for m in receiver.received} == {
        ("al-k2", "kiosk_unresponsive"),
        ("al-k3", "kiosk_offline"),
    }
    assert all(m["severity"] == "critical" for m in receiver.received)


async def test_failed_peripheral_alerts_and_webhook_outage_is_retried(
    cloud: Cloud, receiver: Receiver
) -> None:
    await apply(cloud, state("online", 1, kiosk="al-k4"))
    async with transaction(cloud.app.state.sessions) as db:
        kiosk = await db.get(Kiosk, "al-k4")
        assert kiosk is not None
        kiosk.peripherals = [{"name": "card_reader", "status": "error", "simulated": False}]
    alerts = evaluator(cloud, receiver.url)
    receiver.failing = True
    assert await alerts.evaluate(now=NOW) == (1, 0)
    assert receiver.received == []
    receiver.failing = False
    await alerts.evaluate(now=NOW)
    assert [m["kind"] for m in receiver.received] == ["peripheral_card_reader"]
    async with transaction(cloud.app.state.sessions) as db:
        stored = list(await db.scalars(select(Alert)))
    assert len(stored) == 1 and stored[0].notified_open


async def test_alert_api_is_for_tech_and_admin(cloud: Cloud, receiver: Receiver) -> None:
    await apply(cloud, state("online", 1, kiosk="al-k5"))
    await set_host(cloud, "al-k5", disk_percent=99.0)
    # Closed hours: only the hardware condition counts, whatever the wall clock says.
    await evaluator(cloud, receiver.url, open_now=False).evaluate(now=datetime.now(UTC))
    tech = await cloud.token(Role.TECH)
    operator = await cloud.token(Role.OPERATOR)
    listed = await cloud.client.get("/api/alerts", headers={"Authorization": f"Bearer {tech}"})
    assert listed.status_code == 200
    assert [a["kind"] for a in listed.json()] == ["disk_nearly_full"]
    denied = await cloud.client.get("/api/alerts", headers={"Authorization": f"Bearer {operator}"})
    assert denied.status_code == 403


async def test_poor_call_quality_alerts_and_recovers_when_the_call_is_good_or_over(
    cloud: Cloud, receiver: Receiver
) -> None:
    await apply(cloud, state("online", 1, kiosk="al-k6"))
    good = {
        "rtt_ms": 30.0,
        "jitter_ms": 2.0,
        "loss_percent": 0.0,
        "video_fps": 30.0,
        "video_level": 0,
    }
    await set_host(cloud, "al-k6", call=good)
    alerts = evaluator(cloud, receiver.url, open_now=False)
    assert await alerts.evaluate(now=NOW) == (0, 0)
    await set_host(cloud, "al-k6", call={**good, "loss_percent": 12.5, "video_level": 3})
    assert await alerts.evaluate(now=NOW) == (1, 0)
    [fired] = receiver.received
    assert fired["kind"] == "call_quality_poor" and "12.5%" in fired["text"]
    await set_host(cloud, "al-k6")  # the call ended: no call section in the telemetry
    assert await alerts.evaluate(now=NOW) == (0, 1)
    assert receiver.received[-1]["event"] == "resolved"
