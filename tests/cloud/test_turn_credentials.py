"""The relay credentials a call hands out: the operator console's `hello` and the kiosk's
`assigned` carry the configured TURN server with a credential made for that party, and the
real coturn accepts it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import websockets
from pydantic import SecretStr
from sqlalchemy import select

from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.settings import CallSettings, CloudSettings
from cloud.turn.credentials import TurnSettings, ephemeral_credential, turn_password
from protocol.v1 import CallMessage, IceServer, TopicKind, decode, topic
from tests.ansible.test_coturn import allocate, refusal
from tests.cloud.conftest import Cloud, _running_cloud, cloud_broker_link, serving
from tests.cloud.test_console_socket import call_up, until
from tests.mqtt_clients import client_for
from tests.servers import Broker, Coturn

STUN = IceServer(urls=("stun:stun.example.jp:3478",))


@pytest.fixture
async def turn_cloud(broker: Broker, coturn: Coturn, tmp_path: Path) -> AsyncIterator[Cloud]:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        mqtt=cloud_broker_link(broker, f"cloud-{tmp_path.name}"),
        calls=CallSettings(ice_servers=[STUN], turn=coturn.turn_settings(ttl_s=600)),
    )
    async for running in _running_cloud(settings):
        await asyncio.wait_for(running.app.state.consumer.connected.wait(), 15)
        yield running


def check_credential(server: IceServer | dict[str, object], coturn: Coturn, who: str) -> None:
    """The relay entry names coturn's URLs and a credential for `who`, valid for ttl_s."""
    entry = (
        server if isinstance(server, IceServer) else IceServer.model_validate(server, strict=False)
    )
    assert list(entry.urls) == [coturn.udp_url, coturn.tls_url]
    assert entry.username is not None and entry.credential is not None
    expiry, named = entry.username.split(":")
    assert named == who
    remaining = int(expiry) - datetime.now(UTC).timestamp()
    assert 0 < remaining <= 600
    assert entry.credential == turn_password(coturn.secret, entry.username)


async def accepted_by_coturn(entry: IceServer, coturn: Coturn) -> list[tuple[str, int]]:
    """Allocations with the handed-out credential over UDP and over TLS."""
    assert entry.username is not None and entry.credential is not None
    relayed = []
    for address, tls in (
        (("127.0.0.1", coturn.port), None),
        (("127.0.0.1", coturn.tls_port), coturn.ssl_context()),
    ):
        client = await allocate(address, entry.username, entry.credential, tls=tls)
        assert client.relayed_address is not None
        relayed.append(client.relayed_address)
        await client.delete()
    return relayed


@pytest.mark.broker
async def test_console_and_kiosk_get_a_relay_credential_coturn_accepts(
    broker: Broker, coturn: Coturn, turn_cloud: Cloud
) -> None:
    kiosk_id = "turn-k1"
    operator_name = "turnop"
    operator = await turn_cloud.token(Role.OPERATOR, operator_name)
    call_id = uuid.uuid4()
    down: list[CallMessage] = []
    async with client_for(broker, kiosk_id, client_id=kiosk_id) as kiosk:
        await kiosk.subscribe(topic(kiosk_id, TopicKind.CALL_DOWN), qos=1)

        async def listen() -> None:
            async for message in kiosk.messages:
                _, parsed = decode(message.topic.value, bytes(message.payload))
                assert isinstance(parsed, CallMessage)
                down.append(parsed)

        listener = asyncio.create_task(listen())
        async with (
            serving(turn_cloud) as address,
            websockets.connect(
                f"ws://{address}/ws/operator",
                additional_headers={"Authorization": f"Bearer {operator}"},
            ) as socket,
        ):
            hello = json.loads(await socket.recv())
            await socket.send(json.dumps({"type": "presence", "status": "available"}))
            await until(socket, lambda m: m.get("presence") == "available")
            await kiosk.publish(
                topic(kiosk_id, TopicKind.CALL_UP),
                call_up(
                    kiosk_id,
                    call_id,
                    "request",
                    terms_version="2026-04",
                    privacy_version="2026-04",
                ),
                qos=1,
            )
            await until(socket, lambda m: m.get("queue") and m["queue"][0].get("ringing_here"))
            await socket.send(json.dumps({"type": "accept", "call_id": str(call_id)}))
            async with asyncio.timeout(15):
                while not any(m.action == "assigned" for m in down):
                    await asyncio.sleep(0.05)
        listener.cancel()

    assert hello["type"] == "hello"
    console_relay, console_stun = hello["ice_servers"]
    assert console_stun == {"urls": ["stun:stun.example.jp:3478"]}
    async with transaction(turn_cloud.app.state.sessions) as db:
        user = (
            await db.execute(select(StaffUser).where(StaffUser.username == operator_name))
        ).scalar_one()
    # The staff id, never the name: coturn logs usernames.
    check_credential(console_relay, coturn, f"staff-{user.id}")

    assigned = next(m for m in down if m.action == "assigned")
    kiosk_relay, kiosk_stun = assigned.ice_servers
    assert kiosk_stun == STUN
    check_credential(kiosk_relay, coturn, kiosk_id)
    assert kiosk_relay.credential != console_relay["credential"]  # one credential per party

    console_entry = IceServer.model_validate(console_relay, strict=False)
    relayed = await accepted_by_coturn(kiosk_relay, coturn)
    relayed += await accepted_by_coturn(console_entry, coturn)
    assert len(relayed) == 4


async def test_a_credential_past_its_expiry_is_refused_by_coturn(coturn: Coturn) -> None:
    settings = coturn.turn_settings(ttl_s=60)
    username, password = ephemeral_credential(
        settings, who="turn-k2", now=datetime.fromtimestamp(datetime.now(UTC).timestamp() - 120)
    )
    assert int(username.split(":")[0]) < datetime.now(UTC).timestamp()
    assert await refusal(allocate(("127.0.0.1", coturn.port), username, password)) == 401


async def test_another_secret_makes_credentials_coturn_refuses(coturn: Coturn) -> None:
    other = TurnSettings(
        urls=[coturn.udp_url], secret=SecretStr("another-secret-of-32-chars-long!")
    )
    username, password = ephemeral_credential(other, who="turn-k3", now=datetime.now(UTC))
    assert await refusal(allocate(("127.0.0.1", coturn.port), username, password)) == 401
