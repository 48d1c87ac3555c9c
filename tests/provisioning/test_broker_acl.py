"""The generated broker configuration, enforced by a real Mosquitto."""

from __future__ import annotations

import asyncio
import ssl

import aiomqtt
import pytest

from protocol.v1 import TopicKind, subscription, topic
from provisioning.broker import render_acl
from tests.mqtt_clients import PubackRecorder, client_for, tls_context
from tests.servers import Broker


async def _receive_one(client: aiomqtt.Client, timeout: float) -> aiomqtt.Message | None:
    try:
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                return message
    except TimeoutError:
        return None
    return None


async def test_kiosk_cannot_publish_under_another_kiosk(broker: Broker) -> None:
    async with (
        client_for(broker, "cloud.madoguchi") as cloud,
        client_for(broker, "acl-k1") as k1,
    ):
        pubacks = PubackRecorder(k1)
        await cloud.subscribe(subscription(TopicKind.TELEMETRY))
        await k1.publish(topic("acl-k2", TopicKind.TELEMETRY), b"{}", qos=1)
        assert pubacks.reason_codes == [135]  # MQTT 5 "Not authorized" in the PUBACK
        assert await _receive_one(cloud, 0.5) is None
        # Its own topic goes through, so the denial above was the ACL and not a broken link.
        await k1.publish(topic("acl-k1", TopicKind.TELEMETRY), b"{}", qos=1)
        received = await _receive_one(cloud, 5)
        assert received is not None
        assert received.topic.value == topic("acl-k1", TopicKind.TELEMETRY)


async def test_kiosk_cannot_read_another_kiosks_commands(broker: Broker) -> None:
    async with (
        client_for(broker, "cloud.madoguchi") as cloud,
        client_for(broker, "acl-k1") as k1,
        client_for(broker, "acl-k2") as k2,
    ):
        await k1.subscribe(topic("acl-k2", TopicKind.COMMAND), qos=1)
        await k1.subscribe(subscription(TopicKind.COMMAND), qos=1)  # a wildcard does not help
        await k2.subscribe(topic("acl-k2", TopicKind.COMMAND), qos=1)
        await cloud.publish(topic("acl-k2", TopicKind.COMMAND), b"for k2", qos=1)
        delivered = await _receive_one(k2, 5)
        assert delivered is not None and delivered.payload == b"for k2"
        assert await _receive_one(k1, 0.5) is None


async def test_kiosk_cannot_write_cloud_kinds_on_its_own_topics(broker: Broker) -> None:
    async with client_for(broker, "acl-k3") as k3:
        pubacks = PubackRecorder(k3)
        for kind in (TopicKind.COMMAND, TopicKind.CONFIG, TopicKind.CALL_DOWN):
            await k3.publish(topic("acl-k3", kind), b"{}", qos=1)
        await k3.publish(topic("acl-k3", TopicKind.EVENT), b"{}", qos=1)
        # 135 is "Not authorized"; below 128 is success (16: "no matching subscribers").
        assert [code >= 128 for code in pubacks.reason_codes] == [True, True, True, False]


async def test_client_without_certificate_cannot_connect(broker: Broker) -> None:
    with pytest.raises((aiomqtt.MqttError, ssl.SSLError, OSError)):
        async with client_for(broker, None, timeout=3):
            pass
    assert "peer did not return a certificate" in broker.log


async def test_certificate_from_another_ca_is_refused(broker: Broker, tmp_path) -> None:
    from provisioning.ca import FleetCA

    rogue = FleetCA.create(tmp_path / "rogue")
    cert = rogue.issue_kiosk("acl-k1", tmp_path / "rogue-out")
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(broker.ca_file, (cert.cert_path, cert.key_path)),
        timeout=3,
    )
    with pytest.raises((aiomqtt.MqttError, ssl.SSLError, OSError)):
        async with client:
            pass
    assert "certificate verify failed" in broker.log


def test_acl_confines_every_kiosk_pattern_to_its_own_id() -> None:
    patterns = [
        line
        for line in render_acl().splitlines()
        if line.startswith("pattern") and "/kiosk/" in line
    ]
    assert patterns, "the ACL has no kiosk patterns"
    assert all("/kiosk/%u/" in line for line in patterns)
    assert not any("#" in line or "+" in line for line in patterns)
