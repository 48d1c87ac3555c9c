"""The operator console's WebSocket against a real server and broker: who may connect,
what a bad message gets, and what the kiosk is told when the console goes away."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.routing.models import CallRecord
from protocol.v1 import CallMessage, TopicKind, decode, encode, topic
from tests.cloud.conftest import Cloud, serving
from tests.mqtt_clients import client_for
from tests.servers import Broker


async def until(socket: Any, predicate: Any, timeout: float = 15) -> dict[str, Any]:
    """The next message from the server that satisfies `predicate`."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await socket.recv())
            if predicate(message):
                return message


async def refused_with(address: str, **headers: str) -> int:
    try:
        async with websockets.connect(
            f"ws://{address}/ws/operator", additional_headers=headers or None
        ) as socket:
            await socket.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
    except InvalidStatus as refused:
        return refused.response.status_code
    raise AssertionError("the socket was accepted")


async def test_only_an_operator_from_the_same_origin_gets_a_console(broker_cloud: Cloud) -> None:
    operator = await broker_cloud.token(Role.OPERATOR)
    tech = await broker_cloud.token(Role.TECH)
    async with serving(broker_cloud) as address:
        assert await refused_with(address) in (403, 4401)
        assert await refused_with(address, Authorization="Bearer not-a-token") in (403, 4401)
        assert await refused_with(address, Authorization=f"Bearer {tech}") in (403, 4403)
        foreign = await refused_with(
            address, Authorization=f"Bearer {operator}", Origin="http://evil.example"
        )
        assert foreign in (403, 4403)
        async with websockets.connect(
            f"ws://{address}/ws/operator",
            additional_headers={"Authorization": f"Bearer {operator}"},
        ) as socket:
            hello = json.loads(await socket.recv())
            assert hello["type"] == "hello" and hello["ice_servers"] == []
            state = await until(socket, lambda m: m["type"] == "state")
            assert state["presence"] == "away"


async def test_bad_messages_are_answered_and_the_socket_stays(broker_cloud: Cloud) -> None:
    operator = await broker_cloud.token(Role.OPERATOR)
    async with (
        serving(broker_cloud) as address,
        websockets.connect(
            f"ws://{address}/ws/operator",
            additional_headers={"Authorization": f"Bearer {operator}"},
        ) as socket,
    ):
        await until(socket, lambda m: m["type"] == "state")
        for bad in (
            "not json",
            json.dumps({"type": "launch_missiles"}),
            json.dumps({"type": "presence", "status": "in_call"}),  # not choosable
            json.dumps({"type": "accept", "call_id": str(uuid.uuid4()), "extra": 1}),
        ):
            await socket.send(bad)
            error = await until(socket, lambda m: m["type"] == "error")
            assert "invalid message" in error["detail"]
        # A call that is not waiting, and an answer for a call that is not this operator's.
        await socket.send(json.dumps({"type": "presence", "status": "available"}))
        await until(socket, lambda m: m.get("presence") == "available")
        await socket.send(json.dumps({"type": "accept", "call_id": str(uuid.uuid4())}))
        error = await until(socket, lambda m: m["type"] == "error")
        assert "no longer waiting" in error["detail"]
        await socket.send(
            json.dumps({"type": "answer", "call_id": str(uuid.uuid4()), "sdp": "v=0"})
        )
        error = await until(socket, lambda m: m["type"] == "error")
        assert "no offer" in error["detail"]
        await socket.send(json.dumps({"type": "ping"}))  # still served

        async def dump() -> None:
            await asyncio.sleep(8)
            for task in asyncio.all_tasks():
                task.print_stack(limit=6)

        asyncio.get_running_loop().create_task(dump())


def call_up(kiosk_id: str, call_id: uuid.UUID, action: str, **fields: Any) -> bytes:
    return encode(
        CallMessage.model_validate(
            {
                "kiosk_id": kiosk_id,
                "sent_at": datetime.now(UTC),
                "seq": int(datetime.now(UTC).timestamp() * 1000),
                "call_id": call_id,
                "action": action,
                **fields,
            },
            strict=False,
        )
    )


@pytest.mark.broker
async def test_a_console_closed_mid_call_ends_the_call_and_tells_the_kiosk(
    broker: Broker, broker_cloud: Cloud
) -> None:
    kiosk_id = "sock-k1"
    operator = await broker_cloud.token(Role.OPERATOR)
    call_id = uuid.uuid4()
    down: list[CallMessage] = []
    async with client_for(broker, kiosk_id, client_id=kiosk_id) as kiosk:
        await kiosk.subscribe(topic(kiosk_id, TopicKind.CALL_DOWN), qos=1)

        async def listen() -> None:
            async for message in kiosk.messages:
                _, parsed = decode(message.topic.value, bytes(message.payload))  # type: ignore[arg-type]
                assert isinstance(parsed, CallMessage)
                down.append(parsed)

        listener = asyncio.create_task(listen())
        async with serving(broker_cloud) as address:
            socket = await websockets.connect(
                f"ws://{address}/ws/operator",
                additional_headers={"Authorization": f"Bearer {operator}"},
            )
            await socket.send(json.dumps({"type": "presence", "status": "available"}))
            await until(socket, lambda m: m.get("presence") == "available")
            await kiosk.publish(
                topic(kiosk_id, TopicKind.CALL_UP),
                call_up(
                    kiosk_id, call_id, "request", terms_version="2026-04", privacy_version="2026-04"
                ),
                qos=1,
            )
            state = await until(
                socket, lambda m: m.get("queue") and m["queue"][0].get("ringing_here")
            )
            assert state["presence"] == "ringing"
            await socket.send(json.dumps({"type": "accept", "call_id": str(call_id)}))
            await until(socket, lambda m: (m.get("call") or {}).get("state") == "connected")
            # Another kiosk cannot touch this call: its offer is refused by the broker ACL
            # (topic of another kiosk) and, on its own topic, by the call's owner check.
            async with client_for(broker, "sock-k2", client_id="sock-k2") as other:
                await other.publish(
                    topic("sock-k2", TopicKind.CALL_UP),
                    call_up("sock-k2", call_id, "offer", sdp="v=0 forged"),
                    qos=1,
                )
            await kiosk.publish(
                topic(kiosk_id, TopicKind.CALL_UP),
                call_up(kiosk_id, call_id, "offer", sdp="v=0 genuine"),
                qos=1,
            )
            offered = await until(socket, lambda m: (m.get("call") or {}).get("offer"))
            assert offered["call"]["offer"] == "v=0 genuine"
            await socket.close()  # the operator's browser is closed mid-call
            async with asyncio.timeout(15):
                while not any(m.action == "ended" for m in down):
                    await asyncio.sleep(0.1)
        listener.cancel()
    actions = [m.action for m in down if m.action != "queued"]  # queued: only if it waited
    assert actions == ["assigned", "ended"]
    assigned = next(m for m in down if m.action == "assigned")
    assert assigned.operator_display_name and assigned.call_id == call_id
    ended = next(m for m in down if m.action == "ended")
    assert ended.reason == "operator_disconnected"
    async with transaction(broker_cloud.app.state.sessions) as db:
        call = await db.get(CallRecord, str(call_id))
    assert call is not None and (call.state, call.end_reason) == ("ended", "operator_disconnected")
    assert call.kiosk_offer is None


@pytest.mark.broker
async def test_a_kiosk_will_mid_call_ends_the_call_for_the_operator(broker_cloud: Cloud) -> None:
    """The consumer's path: the kiosk's birth, its call request, then its Last Will."""
    from protocol.v1 import Peripheral, StateMessage

    consumer = broker_cloud.app.state.consumer
    kiosk_id = "will-k1"

    def state(status: str, will: bool) -> bytes:
        return encode(
            StateMessage.model_validate(
                {
                    "kiosk_id": kiosk_id,
                    "sent_at": datetime.now(UTC),
                    "seq": 1,
                    "status": status,
                    "bd_seq": 7,
                    "will": will,
                    "site_id": "city-hall",
                    "agent_version": "0.1.0",
                    "os_version": "Debian 12",
                    "peripherals": [Peripheral(name="card_reader", status="ok", simulated=True)]
                    if status == "online"
                    else [],
                },
                strict=False,
            )
        )

    operator = await broker_cloud.token(Role.OPERATOR)
    call_id = uuid.uuid4()
    assert await consumer.handle(topic(kiosk_id, TopicKind.STATE), state("online", False)) == (
        "state:applied"
    )
    async with (
        serving(broker_cloud) as address,
        websockets.connect(
            f"ws://{address}/ws/operator",
            additional_headers={"Authorization": f"Bearer {operator}"},
        ) as socket,
    ):
        await socket.send(json.dumps({"type": "presence", "status": "available"}))
        await until(socket, lambda m: m.get("presence") == "available")
        request = call_up(
            kiosk_id, call_id, "request", terms_version="2026-04", privacy_version="2026-04"
        )
        assert await consumer.handle(topic(kiosk_id, TopicKind.CALL_UP), request) == "call:queued"
        await until(socket, lambda m: m.get("presence") == "ringing")
        await socket.send(json.dumps({"type": "accept", "call_id": str(call_id)}))
        await until(socket, lambda m: (m.get("call") or {}).get("state") == "connected")
        assert await consumer.handle(topic(kiosk_id, TopicKind.STATE), state("offline", True)) == (
            "state:applied"
        )
        ended = await until(socket, lambda m: (m.get("call") or {}).get("state") == "ended")
        assert ended["call"]["end_reason"] == "kiosk_offline"
        assert ended["call"]["needs_outcome"] and ended["presence"] == "wrap_up"
