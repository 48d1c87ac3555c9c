"""The agent against a real Mosquitto: birth, Last Will, telemetry, reconnects, commands."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.agent import KioskAgent
from protocol.v1 import (
    CommandMessage,
    CommandResultMessage,
    StateMessage,
    TelemetryMessage,
    TopicKind,
    encode,
    subscription,
    topic,
)
from protocol.v1.messages import KioskMessage
from tests.edge.helpers import edge_environment, edge_settings, wait_for_message
from tests.mqtt_clients import client_for
from tests.servers import Broker


def _is_state(kiosk_id: str, status: str, **expected: object):
    def check(message: KioskMessage) -> bool:
        return (
            isinstance(message, StateMessage)
            and message.kiosk_id == kiosk_id
            and message.status == status
            and all(getattr(message, k) == v for k, v in expected.items())
        )

    return check


async def test_birth_and_telemetry_reach_the_cloud(broker: Broker, state_dir: Path) -> None:
    agent = KioskAgent(edge_settings(broker, "edge-a1", state_dir))
    async with client_for(broker, "cloud.madoguchi") as cloud:
        await cloud.subscribe(subscription(TopicKind.STATE, kiosk_id="edge-a1"), qos=1)
        await cloud.subscribe(subscription(TopicKind.TELEMETRY, kiosk_id="edge-a1"), qos=1)
        running = asyncio.create_task(agent.run())
        try:
            birth = await wait_for_message(cloud, _is_state("edge-a1", "online"))
            assert isinstance(birth, StateMessage)
            assert birth.site_id == "city-hall"
            assert birth.bd_seq == agent.counters.bd_seq
            assert {p.name for p in birth.peripherals} == set(agent.settings.peripherals)
            assert all(p.simulated for p in birth.peripherals)
            samples = [
                await wait_for_message(cloud, lambda m: isinstance(m, TelemetryMessage))
                for _ in range(3)
            ]
            seqs = [m.seq for m in samples]
            assert seqs == sorted(seqs) and len(set(seqs)) == 3
            first = samples[0]
            assert isinstance(first, TelemetryMessage)
            assert first.host.memory_used_bytes > 0
            assert first.host.uptime_s > 0
        finally:
            agent.stop()
            await asyncio.wait_for(running, 10)
        goodbye = await wait_for_message(cloud, _is_state("edge-a1", "offline"))
        assert isinstance(goodbye, StateMessage)
        assert goodbye.will is False
        assert goodbye.bd_seq == birth.bd_seq


def _spawn_agent(broker: Broker, kiosk_id: str, state_dir: Path, **overrides: object):
    settings = edge_settings(broker, kiosk_id, state_dir, **overrides)
    env = {**os.environ, **edge_environment(settings)}
    return subprocess.Popen(
        [sys.executable, "-m", "madoguchi", "edge", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_killed_agent_is_declared_dead_by_its_will(broker: Broker, state_dir: Path) -> None:
    async with client_for(broker, "cloud.madoguchi") as cloud:
        await cloud.subscribe(subscription(TopicKind.STATE, kiosk_id="edge-kill"), qos=1)
        process = _spawn_agent(broker, "edge-kill", state_dir)
        try:
            birth = await wait_for_message(cloud, _is_state("edge-kill", "online"), timeout=30)
            assert isinstance(birth, StateMessage)
            process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            process.wait(10)
            keepalive = 2  # edge_settings' default for tests
            death = await wait_for_message(
                cloud, _is_state("edge-kill", "offline"), timeout=1.5 * keepalive
            )
            print(f"killed agent declared offline after {time.monotonic() - killed_at:.3f} s")
            assert isinstance(death, StateMessage)
            assert death.will is True
            assert death.bd_seq == birth.bd_seq
            # The same kiosk comes back: a new birth with a higher number.
            process = _spawn_agent(broker, "edge-kill", state_dir)
            rebirth = await wait_for_message(cloud, _is_state("edge-kill", "online"), timeout=30)
            assert isinstance(rebirth, StateMessage)
            assert rebirth.bd_seq > birth.bd_seq
        finally:
            process.kill()
            process.wait(10)


async def test_hung_agent_is_declared_dead_after_keepalive(broker: Broker, state_dir: Path) -> None:
    """A frozen process keeps its socket open: only the broker's keepalive check exposes it.

    Mosquitto 2.0.11 (Debian 12) checks keepalives coarsely (seen: 4 s for 1 s, 11 s for
    4 s); the bound here is loose and the figure is printed for the record.
    """
    keepalive = 2
    async with client_for(broker, "cloud.madoguchi") as cloud:
        await cloud.subscribe(subscription(TopicKind.STATE, kiosk_id="edge-hang"), qos=1)
        process = _spawn_agent(broker, "edge-hang", state_dir, keepalive_s=keepalive)
        try:
            birth = await wait_for_message(cloud, _is_state("edge-hang", "online"), timeout=30)
            process.send_signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            # Generous bound for a loaded machine; the figure itself is printed.
            death = await wait_for_message(
                cloud, _is_state("edge-hang", "offline"), timeout=1.5 * keepalive + 10
            )
            print(
                f"hung agent declared offline after {time.monotonic() - frozen_at:.2f} s "
                f"(keepalive {keepalive} s)"
            )
            assert isinstance(death, StateMessage) and death.will is True
            assert death.bd_seq == birth.bd_seq
        finally:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(10)


async def test_agent_reconnects_after_broker_restart(broker: Broker, state_dir: Path) -> None:
    agent = KioskAgent(edge_settings(broker, "edge-restart", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.link.connected.wait(), 10)
        first_bd_seq = agent.counters.bd_seq
        broker.restart()
        async with client_for(broker, "cloud.madoguchi") as cloud:
            await cloud.subscribe(subscription(TopicKind.STATE, kiosk_id="edge-restart"), qos=1)
            birth = await wait_for_message(cloud, _is_state("edge-restart", "online"), timeout=30)
            assert isinstance(birth, StateMessage)
            assert birth.bd_seq > first_bd_seq
            assert agent.link.connections >= 2
            await cloud.subscribe(subscription(TopicKind.TELEMETRY, kiosk_id="edge-restart"), qos=1)
            await wait_for_message(cloud, lambda m: isinstance(m, TelemetryMessage))
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)


def _command(kiosk_id: str, *, name: str = "self_test", expires_in: float = 60, command_id=None):
    now = datetime.now(UTC)
    return CommandMessage.model_validate(
        {
            "kiosk_id": kiosk_id,
            "sent_at": now,
            "seq": 1,
            "command_id": command_id or uuid.uuid4(),
            "name": name,
            "issued_by": "tech-1",
            "expires_at": now + timedelta(seconds=expires_in),
        },
        strict=False,
    )


async def test_commands_are_answered_once_and_expiry_is_honoured(
    broker: Broker, state_dir: Path
) -> None:
    agent = KioskAgent(edge_settings(broker, "edge-cmd", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.link.connected.wait(), 10)
        async with client_for(broker, "cloud.madoguchi") as cloud:
            await cloud.subscribe(
                subscription(TopicKind.COMMAND_RESULT, kiosk_id="edge-cmd"), qos=1
            )
            cmd_topic = topic("edge-cmd", TopicKind.COMMAND)
            command = _command("edge-cmd")

            def result_for(command_id):
                return lambda m: isinstance(m, CommandResultMessage) and m.command_id == command_id

            await cloud.publish(cmd_topic, encode(command), qos=1)
            result = await wait_for_message(cloud, result_for(command.command_id))
            assert isinstance(result, CommandResultMessage)
            assert result.status == "succeeded"
            assert result.output["card_reader"] == "ok (simulated)"

            await cloud.publish(cmd_topic, encode(command), qos=1)  # the same id again
            again = await wait_for_message(cloud, result_for(command.command_id))
            assert isinstance(again, CommandResultMessage)
            assert (again.status, again.output) == (result.status, result.output)
            assert again.seq > result.seq

            expired = _command("edge-cmd", expires_in=-1)
            await cloud.publish(cmd_topic, encode(expired), qos=1)
            answer = await wait_for_message(cloud, result_for(expired.command_id))
            assert isinstance(answer, CommandResultMessage) and answer.status == "expired"

            unsupported = _command("edge-cmd", name="update_agent")
            await cloud.publish(cmd_topic, encode(unsupported), qos=1)
            answer = await wait_for_message(cloud, result_for(unsupported.command_id))
            assert isinstance(answer, CommandResultMessage) and answer.status == "rejected"

            # Garbage on the command topic is refused and the agent keeps serving.
            await cloud.publish(cmd_topic, b"\xff not json", qos=1)
            await cloud.publish(cmd_topic, b'{"schema": 99}', qos=1)
            last = _command("edge-cmd")
            await cloud.publish(cmd_topic, encode(last), qos=1)
            answer = await wait_for_message(cloud, result_for(last.command_id))
            assert isinstance(answer, CommandResultMessage) and answer.status == "succeeded"
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)


async def test_stale_will_on_the_retained_state_is_replaced_by_a_new_birth(
    broker: Broker, state_dir: Path
) -> None:
    agent = KioskAgent(edge_settings(broker, "edge-stale", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.link.connected.wait(), 10)
        live = agent.counters.bd_seq
        stale = StateMessage.model_validate(
            {
                "kiosk_id": "edge-stale",
                "sent_at": datetime.now(UTC),
                "seq": 1,
                "status": "offline",
                "bd_seq": live - 1,
                "will": True,
                "site_id": "city-hall",
                "agent_version": "0.1.0",
                "os_version": "test",
            },
            strict=False,
        )
        # A second connection with the kiosk's own certificate plays the late will.
        async with client_for(broker, "edge-stale", client_id="edge-stale-old") as old:
            await old.subscribe(subscription(TopicKind.STATE, kiosk_id="edge-stale"), qos=1)
            await old.publish(
                topic("edge-stale", TopicKind.STATE), encode(stale), qos=1, retain=True
            )
            reborn = await wait_for_message(old, _is_state("edge-stale", "online", bd_seq=live))
            assert isinstance(reborn, StateMessage)
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)


@pytest.mark.parametrize("kiosk", ["edge-a1"])
def test_agent_refuses_to_start_without_configuration(kiosk: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_EDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "edge", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MADOGUCHI_EDGE_KIOSK_ID" in result.stderr
