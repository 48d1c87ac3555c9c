"""Faults the fleet must survive with zero loss: the database restarting under the
consumer, and the control plane restarting while kiosks keep reporting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from cloud.db.engine import transaction
from cloud.fleet.models import KioskEvent
from cloud.settings import CloudSettings
from edge.agent import KioskAgent
from tests.cloud.conftest import Cloud, _running_cloud, cloud_broker_link
from tests.edge.helpers import edge_settings
from tests.servers import Broker, Postgres


def cloud_settings(broker: Broker, database_url: str, client_id: str) -> CloudSettings:
    return CloudSettings(
        database_url=database_url,
        mqtt=cloud_broker_link(broker, client_id),
    )


async def stored_event_seqs(cloud: Cloud, kiosk_id: str) -> list[int]:
    async with transaction(cloud.app.state.sessions) as db:
        rows = await db.scalars(
            select(KioskEvent.seq).where(KioskEvent.kiosk_id == kiosk_id).order_by(KioskEvent.id)
        )
        return list(rows)


async def emit_events(agent: KioskAgent, count: int, gap_s: float) -> list[int]:
    emitted = []
    for index in range(count):
        before = agent.counters.next_seq()  # the event takes the next number after this
        agent.emit_event("error", step=index)
        emitted.append(before + 1)
        await asyncio.sleep(gap_s)
    return emitted


async def test_database_restart_loses_no_event(
    broker: Broker, postgres: Postgres, fresh_postgres_url: str, state_dir: Path
) -> None:
    settings = cloud_settings(broker, fresh_postgres_url, "cloud-db-fault")
    agent = KioskAgent(edge_settings(broker, "fault-db", state_dir))
    running = asyncio.create_task(agent.run())
    try:
        async for cloud in _running_cloud(settings):
            await asyncio.wait_for(cloud.app.state.consumer.connected.wait(), 15)
            await asyncio.wait_for(agent.link.connected.wait(), 15)
            emitting = asyncio.create_task(emit_events(agent, 40, 0.05))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(2.0)  # events keep arriving while the database is gone
            await asyncio.to_thread(postgres.start)
            emitted = await emitting
            async with asyncio.timeout(30):
                while not set(emitted) <= set(await stored_event_seqs(cloud, "fault-db")):
                    await asyncio.sleep(0.2)
            stored = [s for s in await stored_event_seqs(cloud, "fault-db") if s in set(emitted)]
            assert stored == emitted  # each once, in order
            failures = cloud.app.state.registry.get_sample_value(
                "madoguchi_mqtt_handler_errors_total", {"kind": "event"}
            )
            assert failures and failures > 0, "the outage was not noticed: nothing was tested"
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)


async def test_control_plane_restart_loses_no_event(
    broker: Broker, tmp_path: Path, state_dir: Path
) -> None:
    """While the control plane is down, the broker keeps its persistent session's messages;
    the restarted control plane receives them."""
    settings = cloud_settings(broker, f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "cloud-restart")
    agent = KioskAgent(edge_settings(broker, "fault-cp", state_dir))
    running = asyncio.create_task(agent.run())
    emitted: list[int] = []
    try:
        async for cloud in _running_cloud(settings):
            await asyncio.wait_for(cloud.app.state.consumer.connected.wait(), 15)
            await asyncio.wait_for(agent.link.connected.wait(), 15)
            emitted += await emit_events(agent, 10, 0.02)
            async with asyncio.timeout(15):
                while not set(emitted) <= set(await stored_event_seqs(cloud, "fault-cp")):
                    await asyncio.sleep(0.1)
        emitted += await emit_events(agent, 10, 0.02)  # nobody consumes these yet
        async for cloud in _running_cloud(settings):  # a new process would do the same
            await asyncio.wait_for(cloud.app.state.consumer.connected.wait(), 15)
            emitted += await emit_events(agent, 10, 0.02)
            async with asyncio.timeout(15):
                while not set(emitted) <= set(await stored_event_seqs(cloud, "fault-cp")):
                    await asyncio.sleep(0.1)
            stored = [s for s in await stored_event_seqs(cloud, "fault-cp") if s in set(emitted)]
            assert stored == emitted
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)
