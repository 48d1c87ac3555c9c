"""The MQTT consumer: bad input is refused and counted, the next good message still lands;
against the real broker it follows kiosks through births, deaths and broker restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import structlog

from cloud.settings import BrokerSettings
from edge.agent import KioskAgent
from protocol.v1 import MAX_PAYLOAD_BYTES, TopicKind, encode, topic
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import state, telemetry
from tests.edge.helpers import edge_settings
from tests.mqtt_clients import client_for
from tests.servers import Broker, VictoriaMetrics


def rejected(cloud: Cloud, reason: str) -> float:
    value = cloud.app.state.registry.get_sample_value(
        "madoguchi_mqtt_messages_rejected_total", {"reason": reason}
    )
    return value or 0.0


@pytest.fixture
async def consumer(sqlite_cloud: Cloud):  # type: ignore[no-untyped-def]
    from cloud.fleet.consumer import FleetConsumer

    return FleetConsumer(
        settings=BrokerSettings(enabled=False),
        sessions=sqlite_cloud.app.state.sessions,
        metrics=sqlite_cloud.app.state.metrics,
        summaries=sqlite_cloud.app.state.summaries,
    )


async def test_bad_payloads_are_refused_counted_and_do_not_stop_the_next(
    sqlite_cloud: Cloud, consumer
) -> None:  # type: ignore[no-untyped-def]
    state_topic = topic("k1", TopicKind.STATE)
    birth = json.loads(encode(state("online", 1)))
    cases = {
        "not_json": b"\x00\xffgarbage",
        "bad_version": json.dumps({**birth, "schema": 2}).encode(),
        "too_large": b"{" + b" " * (MAX_PAYLOAD_BYTES + 1) + b"}",
        "kiosk_mismatch": json.dumps({**birth, "kiosk_id": "k2"}).encode(),
        "invalid": json.dumps({**birth, "bd_seq": "1"}).encode(),
        "topic_mismatch": encode(telemetry(5, 1.0)),
    }
    with structlog.testing.capture_logs() as logs:
        for reason, payload in cases.items():
            assert await consumer.handle(state_topic, payload) == f"rejected:{reason}"
            assert rejected(sqlite_cloud, reason) == 1
        assert await consumer.handle("madoguchi/v1/kiosk/k1/bogus", b"{}") == (
            "rejected:unknown_topic"
        )
    # The next valid message is applied.
    assert await consumer.handle(state_topic, encode(state("online", 1))) == "state:applied"
    warnings = [entry for entry in logs if entry["event"] == "message_rejected"]
    assert len(warnings) == len(cases) + 1
    assert all("payload" not in entry for entry in warnings)
    assert not any("garbage" in str(entry) for entry in warnings)


async def kiosk_status(cloud: Cloud, kiosk_id: str, token: str) -> str | None:
    response = await cloud.client.get(
        f"/api/kiosks/{kiosk_id}", headers={"Authorization": f"Bearer {token}"}
    )
    return response.json()["status"] if response.status_code == 200 else None


async def wait_status(cloud: Cloud, kiosk_id: str, token: str, status: str, timeout: float = 20):
    async with asyncio.timeout(timeout):
        while await kiosk_status(cloud, kiosk_id, token) != status:
            await asyncio.sleep(0.1)


async def test_registry_follows_a_real_kiosk_through_faults(
    broker: Broker, broker_cloud: Cloud, state_dir: Path
) -> None:
    from cloud.auth.models import Role

    token = await broker_cloud.token(Role.TECH)
    agent = KioskAgent(edge_settings(broker, "cons-k1", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        await wait_status(broker_cloud, "cons-k1", token, "online")

        # Garbage from a kiosk with a valid certificate is refused; the consumer carries on.
        async with client_for(broker, "cons-k1", client_id="cons-k1-rogue") as rogue:
            await rogue.publish(topic("cons-k1", TopicKind.TELEMETRY), b"{oops", qos=1)
            await rogue.publish(topic("cons-k1", TopicKind.EVENT), b'{"schema": 9}', qos=1)
        async with asyncio.timeout(10):
            while (
                rejected(broker_cloud, "not_json") < 1 or rejected(broker_cloud, "bad_version") < 1
            ):
                await asyncio.sleep(0.05)
        # Telemetry published after the garbage still reaches the registry.
        async with asyncio.timeout(10):
            while (
                await broker_cloud.client.get(
                    "/api/kiosks/cons-k1", headers={"Authorization": f"Bearer {token}"}
                )
            ).json()["host"] is None:
                await asyncio.sleep(0.1)

        # The broker restarts: both sides reconnect by themselves.
        consumer = broker_cloud.app.state.consumer
        before = (agent.link.connections, consumer.connections)
        broker.restart()
        async with asyncio.timeout(30):
            while not (agent.link.connections > before[0] and consumer.connections > before[1]):
                await asyncio.sleep(0.05)
        await asyncio.wait_for(consumer.connected.wait(), 20)
        await wait_status(broker_cloud, "cons-k1", token, "online")
        health = await broker_cloud.client.get("/healthz")
        assert health.json()["broker"] == "connected"

        # A graceful stop says goodbye with the current bd_seq: offline at once.
        agent.stop()
        await asyncio.wait_for(running, 10)
        await wait_status(broker_cloud, "cons-k1", token, "offline")
    finally:
        agent.stop()
        if not running.done():
            await asyncio.wait_for(running, 10)


async def test_kiosk_telemetry_reaches_the_time_series(
    broker: Broker, broker_cloud: Cloud, victoria_metrics: VictoriaMetrics, state_dir: Path
) -> None:
    agent = KioskAgent(edge_settings(broker, "ts-e2e", state_dir, telemetry_interval_s=0.1))
    sent: list[int] = []
    original_put = agent.outbox.put

    def recording_put(item):  # type: ignore[no-untyped-def]
        if item.kind is TopicKind.TELEMETRY:
            sent.append(json.loads(item.payload)["seq"])
        original_put(item)

    agent.outbox.put = recording_put  # type: ignore[method-assign]
    running = asyncio.create_task(agent.run())
    try:
        async with asyncio.timeout(20):
            while len(sent) < 10:
                await asyncio.sleep(0.05)
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)
    writer = broker_cloud.app.state.timeseries
    async with asyncio.timeout(20):
        while True:
            stored = victoria_metrics.export('{__name__="kiosk_seq",kiosk_id="ts-e2e"}')
            values = {int(v) for entry in stored for v in entry["values"]}  # type: ignore[union-attr]
            if set(sent) <= values:
                break
            await asyncio.sleep(0.2)
    assert writer.written >= len(sent)
    site = stored[0]["metric"]["site_id"]  # type: ignore[index]
    assert site == "city-hall"
