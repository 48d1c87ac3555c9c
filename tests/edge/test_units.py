"""Edge building blocks without a broker: counters, outbox, backoff, command router."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.commands import CommandOutcome, CommandRouter
from edge.counters import SEQ_BLOCK, Counters
from edge.outbox import Outbox, OutboxFullError, Outgoing
from protocol.backoff import Backoff
from protocol.v1 import CommandMessage, TopicKind


def test_counters_keep_increasing_across_restarts_and_crashes(tmp_path: Path) -> None:
    first = Counters(tmp_path)
    seqs = [first.next_seq() for _ in range(SEQ_BLOCK + 5)]
    bd = first.next_bd_seq()
    # A crash: no clean shutdown, a new process reads the same directory.
    second = Counters(tmp_path)
    assert second.next_seq() > max(seqs)
    assert second.next_bd_seq() > bd


def test_counters_survive_a_corrupt_state_file(tmp_path: Path) -> None:
    first = Counters(tmp_path)
    last = first.next_seq()
    (tmp_path / "counters.json").write_text("{torn")
    assert Counters(tmp_path).next_seq() > 0
    assert Counters(tmp_path).next_bd_seq() > 0
    assert last > 0


def _item(kind: TopicKind, n: int) -> Outgoing:
    return Outgoing(kind, str(n).encode())


async def test_outbox_drops_oldest_telemetry_never_events() -> None:
    box = Outbox(limit=3)
    box.put(_item(TopicKind.TELEMETRY, 1))
    box.put(_item(TopicKind.EVENT, 2))
    box.put(_item(TopicKind.TELEMETRY, 3))
    box.put(_item(TopicKind.COMMAND_RESULT, 4))  # drops telemetry 1
    assert box.dropped == 1
    box.put(_item(TopicKind.TELEMETRY, 5))  # drops telemetry 3
    order = []
    while len(box):
        item = await box.peek()
        order.append(int(item.payload))
        box.ack(item)
    assert order == [2, 4, 5]


async def test_outbox_full_of_events_refuses_loudly() -> None:
    box = Outbox(limit=2)
    box.put(_item(TopicKind.EVENT, 1))
    box.put(_item(TopicKind.EVENT, 2))
    box.put(_item(TopicKind.TELEMETRY, 3))  # telemetry gives way
    assert len(box) == 2 and box.dropped == 1
    with pytest.raises(OutboxFullError):
        box.put(_item(TopicKind.EVENT, 4))


async def test_outbox_keeps_an_item_until_acknowledged() -> None:
    box = Outbox(limit=10)
    waiter = asyncio.create_task(box.peek())
    await asyncio.sleep(0)
    box.put(_item(TopicKind.EVENT, 1))
    item = await asyncio.wait_for(waiter, 1)
    assert await box.peek() is item  # a failed publish sees the same item again
    box.ack(item)
    assert len(box) == 0


def test_backoff_is_jittered_capped_and_resets() -> None:
    backoff = Backoff(minimum=0.5, maximum=4.0)
    delays = [backoff.next_delay() for _ in range(50)]
    assert all(0.5 <= d <= 4.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 10  # jitter, not a fixed ladder
    backoff.reset()
    assert backoff.next_delay() == 0.5


def _command(expires_in: float) -> CommandMessage:
    now = datetime.now(UTC)
    return CommandMessage(
        kiosk_id="k1",
        sent_at=now,
        seq=1,
        command_id=uuid.uuid4(),
        name="self_test",
        issued_by="tech",
        expires_at=now + timedelta(seconds=expires_in),
    )


async def test_command_router_runs_once_per_id_and_reports_failures() -> None:
    router = CommandRouter()
    runs = []

    @router.on("self_test")
    async def self_test(command: CommandMessage) -> CommandOutcome:
        runs.append(command.command_id)
        if len(runs) > 1:
            raise RuntimeError("resident name leaked here")
        return CommandOutcome("succeeded")

    command = _command(60)
    now = datetime.now(UTC)
    assert (await router.handle(command, now=now)).status == "succeeded"
    assert (await router.handle(command, now=now)).status == "succeeded"
    assert len(runs) == 1
    failed = await router.handle(_command(60), now=now)
    assert failed.status == "failed"
    assert "resident" not in failed.detail and "RuntimeError" in failed.detail
    assert (await router.handle(_command(-1), now=now)).status == "expired"
    other = CommandRouter()
    assert (await other.handle(_command(60), now=now)).status == "rejected"
