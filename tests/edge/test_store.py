"""Store-and-forward: the disk queue on its own, and the agent riding out a broker outage."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiomqtt
import pytest

from edge.agent import KioskAgent
from edge.outbox import Outbox, OutboxFullError, Outgoing
from edge.store import DiskQueue
from protocol.v1 import TelemetryMessage, TopicKind, decode, subscription
from tests.edge.helpers import edge_settings
from tests.mqtt_clients import tls_context
from tests.servers import Broker


def _item(kind: TopicKind, n: int) -> Outgoing:
    return Outgoing(kind, str(n).encode())


def test_disk_queue_keeps_order_until_acknowledged_and_survives_reopen(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3")
    queue.put_many([_item(TopicKind.TELEMETRY, n) for n in range(5)])
    batch = queue.get_batch(3)
    assert [int(item.payload) for _, item in batch] == [0, 1, 2]
    queue.ack_batch([row_id for row_id, _ in batch[:2]])
    queue.close()
    reopened = DiskQueue(tmp_path / "q.sqlite3")
    assert len(reopened) == 3
    assert [int(item.payload) for _, item in reopened.get_batch(10)] == [2, 3, 4]


def test_disk_queue_drops_telemetry_first_and_never_events(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3", max_rows=3)
    queue.put(_item(TopicKind.TELEMETRY, 1))
    queue.put(_item(TopicKind.EVENT, 2))
    queue.put(_item(TopicKind.TELEMETRY, 3))
    queue.put(_item(TopicKind.COMMAND_RESULT, 4))
    assert [int(i.payload) for _, i in queue.get_batch(10)] == [2, 3, 4]
    queue.put(_item(TopicKind.EVENT, 5))
    assert [int(i.payload) for _, i in queue.get_batch(10)] == [2, 4, 5]
    assert queue.dropped == 2
    with pytest.raises(OutboxFullError):
        queue.put(_item(TopicKind.EVENT, 6))
    assert len(queue) == 3


def test_disk_queue_expires_old_telemetry(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3", telemetry_ttl_s=0.05)
    queue.put(_item(TopicKind.TELEMETRY, 1))
    queue.put(_item(TopicKind.EVENT, 2))
    time.sleep(0.1)
    queue.put(_item(TopicKind.TELEMETRY, 3))
    assert [int(i.payload) for _, i in queue.get_batch(10)] == [2, 3]


def test_queue_is_not_corrupted_by_sigkill_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    writer = textwrap.dedent(f"""
        from edge.outbox import Outgoing
        from edge.store import DiskQueue
        from protocol.v1.topics import TopicKind
        queue = DiskQueue(__import__("pathlib").Path({str(path)!r}))
        print("ready", flush=True)
        n = 0
        while True:
            queue.put_many([Outgoing(TopicKind.EVENT, str(n + i).encode()) for i in range(50)])
            n += 50
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    queue = DiskQueue(path)
    values = [int(item.payload) for _, item in queue.get_batch(10_000_000)]
    assert len(values) > 0 and len(values) % 50 == 0  # whole transactions only
    assert values == list(range(len(values)))


async def test_outbox_spills_to_disk_in_order_and_replays_as_historical(tmp_path: Path) -> None:
    box = Outbox(limit=100, disk=DiskQueue(tmp_path / "q.sqlite3"))
    box.put(_item(TopicKind.EVENT, 1))
    box.put(_item(TopicKind.TELEMETRY, 2))
    box.link_down()
    box.put(_item(TopicKind.TELEMETRY, 3))
    box.link_up()
    box.put(_item(TopicKind.EVENT, 4))  # queues behind the backlog
    seen = []
    for _ in range(4):
        item = await box.peek()
        seen.append((int(item.payload), item.historical))
        box.ack(item)
        box.settle()
    assert seen == [(1, True), (2, True), (3, True), (4, True)]
    box.put(_item(TopicKind.EVENT, 5))  # backlog drained: memory again
    item = await box.peek()
    assert (int(item.payload), item.historical) == (5, False)


async def test_agent_loses_nothing_while_the_broker_is_frozen(
    broker: Broker, state_dir: Path
) -> None:
    agent = KioskAgent(
        edge_settings(broker, "saf-k1", state_dir, telemetry_interval_s=0.1, replay_rate_per_s=500)
    )
    produced: list[int] = []
    original_put = agent.outbox.put

    def recording_put(item: Outgoing) -> None:
        if item.kind is TopicKind.TELEMETRY:
            produced.append(decode_seq(item.payload))
        original_put(item)

    agent.outbox.put = recording_put  # type: ignore[method-assign]
    cert, key = broker.cloud_cert
    received: list[tuple[int, bool]] = []
    subscriber = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier="saf-cloud",
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(broker.ca_file, (cert, key)),
        keepalive=120,
    )
    async with subscriber:
        await subscriber.subscribe(subscription(TopicKind.TELEMETRY, kiosk_id="saf-k1"), qos=1)

        async def collect() -> None:
            async for message in subscriber.messages:
                _, parsed = decode(message.topic.value, bytes(message.payload))  # type: ignore[arg-type]
                assert isinstance(parsed, TelemetryMessage)
                props = message.properties
                flags = dict(getattr(props, "UserProperty", []) or [])
                received.append((parsed.seq, flags.get("historical") == "1"))

        collector = asyncio.create_task(collect())
        running = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.link.connected.wait(), 10)
            await asyncio.sleep(0.5)
            broker.pause()
            try:
                async with asyncio.timeout(15):  # the agent notices by its keepalive
                    while agent.link.connected.is_set():
                        await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # sampling goes on, to disk
                assert agent.disk_queue is not None and len(agent.disk_queue) > 0
            finally:
                broker.resume()
            await asyncio.wait_for(agent.link.connected.wait(), 20)
            async with asyncio.timeout(20):
                while not set(produced[: len(produced) - 2]) <= {s for s, _ in received}:
                    await asyncio.sleep(0.05)
        finally:
            agent.stop()
            await asyncio.wait_for(running, 10)
            collector.cancel()
    seqs = [s for s, _ in received]
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == sorted(first_seen), "telemetry arrived out of order"
    assert any(historical for _, historical in received), "nothing was replayed from disk"
    # Zero loss: every reading was delivered, or still waits on disk for the next connection.
    still_queued = {
        decode_seq(item.payload)
        for _, item in DiskQueue(state_dir / "outbox.sqlite3").get_batch(1_000_000)
        if item.kind is TopicKind.TELEMETRY
    }
    missing = set(produced) - set(seqs) - still_queued
    assert not missing, f"lost {len(missing)} of {len(produced)} readings"


def decode_seq(payload: bytes) -> int:
    import json

    return int(json.loads(payload)["seq"])
