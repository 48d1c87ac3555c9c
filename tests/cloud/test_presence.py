"""Kiosks know whether the control plane is there: retained presence with a Last Will."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge.agent import KioskAgent
from protocol.errors import ProtocolError
from protocol.v1.presence import decode_cloud_state
from tests.cloud.conftest import _running_cloud
from tests.cloud.test_faults import cloud_settings
from tests.edge.helpers import edge_settings
from tests.servers import Broker


async def wait_for(predicate, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_agent_follows_the_control_planes_presence(
    broker: Broker, tmp_path: Path, state_dir: Path
) -> None:
    agent = KioskAgent(edge_settings(broker, "pres-k1", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.link.connected.wait(), 15)
        settings = cloud_settings(
            broker, f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "cloud-presence"
        )
        async for cloud in _running_cloud(settings):
            await asyncio.wait_for(cloud.app.state.consumer.connected.wait(), 15)
            await wait_for(lambda: agent.link.cloud_online)
        await wait_for(lambda: not agent.link.cloud_online)  # clean shutdown says offline

        # A control plane that dies without a word is reported by its Last Will.
        script = textwrap.dedent(f"""
            import asyncio
            from tests.cloud.conftest import _running_cloud
            from tests.cloud.test_faults import cloud_settings
            from tests.servers import Broker
            from madoguchi.mosquitto import MosquittoProcess
            from provisioning.ca import FleetCA
            from pathlib import Path
            ca = FleetCA.load(Path({str(broker.ca.directory)!r}))
            broker = Broker(ca=ca, directory=Path({str(broker.directory)!r}),
                            process=MosquittoProcess(Path("x"), {broker.port}, log_path=Path("y")))
            async def main():
                settings = cloud_settings(broker, "sqlite+aiosqlite:///{tmp_path / "d.db"}",
                                          "cloud-doomed")
                async for cloud in _running_cloud(settings):
                    await cloud.app.state.consumer.connected.wait()
                    print("up", flush=True)
                    await asyncio.sleep(3600)
            asyncio.run(main())
        """)
        doomed = subprocess.Popen(  # noqa: ASYNC220 - one child, read in a thread
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
            cwd=Path(__file__).parents[2],
        )
        try:
            assert doomed.stdout is not None
            async with asyncio.timeout(30):
                while (await asyncio.to_thread(doomed.stdout.readline)) not in {"up\n", ""}:
                    pass
            await wait_for(lambda: agent.link.cloud_online)
            doomed.send_signal(signal.SIGKILL)
            await wait_for(lambda: not agent.link.cloud_online)
        finally:
            doomed.kill()
            doomed.wait(10)
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("madoguchi/v1/cloud/cloud-1/state", b"not json"),
        ("madoguchi/v1/cloud/cloud-1/state", b'{"schema": 1, "type": "cloud_state"}'),
        (
            "madoguchi/v1/cloud/cloud-2/state",
            b'{"schema":1,"type":"cloud_state","replica_id":"cloud-1","status":"online",'
            b'"sent_at":"2026-11-25T00:00:00Z"}',
        ),
        ("madoguchi/v1/cloud/state", b"{}"),
    ],
)
def test_bad_presence_messages_are_refused(topic: str, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_cloud_state(topic, payload)
