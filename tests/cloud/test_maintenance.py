"""Remote maintenance end to end: API → dispatcher → real broker → real agent → result →
command state and audit log; roles, forcing, deferral during a resident session."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.maintenance import service
from cloud.maintenance.models import KioskCommand
from edge.agent import KioskAgent
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import apply, state
from tests.edge.helpers import edge_settings
from tests.servers import Broker


@pytest.fixture
async def live_kiosk(
    broker: Broker, broker_cloud: Cloud, state_dir: Path
) -> AsyncIterator[KioskAgent]:
    agent = KioskAgent(edge_settings(broker, "mnt-k1", state_dir))
    running = asyncio.create_task(agent.run())
    token = await broker_cloud.token(Role.TECH, "tech-wait")
    async with asyncio.timeout(20):
        while (
            await broker_cloud.client.get(
                "/api/kiosks/mnt-k1", headers={"Authorization": f"Bearer {token}"}
            )
        ).status_code != 200:
            await asyncio.sleep(0.1)
    yield agent
    agent.stop()
    await asyncio.wait_for(running, 10)


async def issue(cloud: Cloud, token: str, kiosk: str, **body: object):  # type: ignore[no-untyped-def]
    return await cloud.client.post(
        f"/api/kiosks/{kiosk}/commands", json=body, headers={"Authorization": f"Bearer {token}"}
    )


async def wait_state(cloud: Cloud, token: str, command_id: str, *states: str) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(20):
        while True:
            command = (
                await cloud.client.get(
                    f"/api/commands/{command_id}", headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
            if command["state"] in states:
                return command  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)


async def test_tech_runs_a_self_test_and_sees_the_result(
    broker_cloud: Cloud, live_kiosk: KioskAgent
) -> None:
    tech = await broker_cloud.token(Role.TECH)
    response = await issue(broker_cloud, tech, "mnt-k1", name="self_test")
    assert response.status_code == 202
    command = response.json()
    assert command["state"] == "queued" and command["issued_by"].startswith("tech")
    done = await wait_state(broker_cloud, tech, command["command_id"], "succeeded", "failed")
    assert done["state"] == "succeeded"
    assert done["output"]["card_reader"] == "ok (simulated)"
    history = (
        await broker_cloud.client.get(
            "/api/kiosks/mnt-k1/commands", headers={"Authorization": f"Bearer {tech}"}
        )
    ).json()
    assert [c["command_id"] for c in history] == [command["command_id"]]
    async with transaction(broker_cloud.app.state.sessions) as db:
        actions = [
            (e.actor.split(":")[0] if ":" in e.actor else e.actor, e.action)
            for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert ("kiosk", "command.result") in actions
    assert any(action == "command.issue" for _, action in actions)
    assert ("system", "command.sent") in actions


async def test_set_config_reaches_the_agent(broker_cloud: Cloud, live_kiosk: KioskAgent) -> None:
    admin = await broker_cloud.token(Role.ADMIN)
    ok = (
        await issue(
            broker_cloud, admin, "mnt-k1", name="set_config", args={"telemetry_interval_s": 2.5}
        )
    ).json()
    done = await wait_state(broker_cloud, admin, ok["command_id"], "succeeded", "rejected")
    assert done["state"] == "succeeded"
    assert live_kiosk.config.telemetry_interval_s == 2.5
    bad = (
        await issue(
            broker_cloud, admin, "mnt-k1", name="set_config", args={"telemetry_interval_s": -4}
        )
    ).json()
    refused = await wait_state(broker_cloud, admin, bad["command_id"], "succeeded", "rejected")
    assert refused["state"] == "rejected" and "telemetry_interval_s" in refused["detail"]
    assert live_kiosk.config.telemetry_interval_s == 2.5


async def test_disruptive_command_waits_for_the_resident_unless_forced(
    broker_cloud: Cloud, live_kiosk: KioskAgent
) -> None:
    admin = await broker_cloud.token(Role.ADMIN)
    live_kiosk.session.begin()
    reboot = (await issue(broker_cloud, admin, "mnt-k1", name="reboot")).json()
    await wait_state(broker_cloud, admin, reboot["command_id"], "deferred")
    marker = live_kiosk.settings.state_dir / "rebooted"
    assert not marker.exists()
    live_kiosk.session.end()
    await wait_state(broker_cloud, admin, reboot["command_id"], "succeeded")
    async with asyncio.timeout(10):
        while not marker.exists():
            await asyncio.sleep(0.05)

    marker.unlink()
    live_kiosk.session.begin()
    forced = (await issue(broker_cloud, admin, "mnt-k1", name="reboot", force=True)).json()
    await wait_state(broker_cloud, admin, forced["command_id"], "succeeded")
    live_kiosk.session.end()


async def test_restart_agent_brings_a_fresh_birth(
    broker: Broker, broker_cloud: Cloud, state_dir: Path
) -> None:
    from edge.agent import run_forever

    settings = edge_settings(broker, "mnt-k2", state_dir)
    runner = asyncio.create_task(run_forever(settings))
    tech = await broker_cloud.token(Role.TECH)
    headers = {"Authorization": f"Bearer {tech}"}
    try:
        async with asyncio.timeout(20):
            while (
                await broker_cloud.client.get("/api/kiosks/mnt-k2", headers=headers)
            ).status_code != 200:
                await asyncio.sleep(0.1)
        first = (await broker_cloud.client.get("/api/kiosks/mnt-k2", headers=headers)).json()
        command = (await issue(broker_cloud, tech, "mnt-k2", name="restart_agent")).json()
        await wait_state(broker_cloud, tech, command["command_id"], "succeeded")
        async with asyncio.timeout(20):
            while True:
                now = (await broker_cloud.client.get("/api/kiosks/mnt-k2", headers=headers)).json()
                if now["bd_seq"] > first["bd_seq"] and now["status"] == "online":
                    break
                await asyncio.sleep(0.1)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_roles_forcing_and_unknown_kiosks(sqlite_cloud: Cloud) -> None:
    await apply(sqlite_cloud, state("online", 1, kiosk="mnt-k3"))
    operator = await sqlite_cloud.token(Role.OPERATOR)
    city = await sqlite_cloud.token(Role.CITY)
    tech = await sqlite_cloud.token(Role.TECH)
    for token in (operator, city):
        assert (await issue(sqlite_cloud, token, "mnt-k3", name="self_test")).status_code == 403
    assert (await issue(sqlite_cloud, tech, "mnt-k3", name="reboot", force=True)).status_code == 403
    assert (await issue(sqlite_cloud, tech, "nowhere", name="self_test")).status_code == 404
    assert (await issue(sqlite_cloud, tech, "mnt-k3", name="format_disk")).status_code == 422
    assert (
        await issue(sqlite_cloud, tech, "mnt-k3", name="self_test", expires_in_s=1)
    ).status_code == 422


async def test_unanswered_commands_time_out(sqlite_cloud: Cloud) -> None:
    await apply(sqlite_cloud, state("online", 1, kiosk="mnt-k4"))
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        command = await service.issue_command(
            db=db,
            kiosk_id="mnt-k4",
            name="self_test",
            args={},
            force=False,
            issued_by="tech",
            ttl=timedelta(seconds=30),
        )
        command_id = command.command_id
    later = datetime.now(UTC) + timedelta(minutes=5)
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        assert await service.time_out_unanswered(db=db, now=later, grace=timedelta(seconds=30)) == 1
        assert await service.time_out_unanswered(db=db, now=later, grace=timedelta(seconds=30)) == 0
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        stored = await db.get(KioskCommand, command_id)
        assert stored is not None and stored.state == "timed_out"


async def test_collect_logs_delivers_redacted_bounded_logs_to_the_tech(
    broker_cloud: Cloud, live_kiosk: KioskAgent
) -> None:
    import structlog

    log = structlog.get_logger("test")
    log.info("resident_mistake", note="番号 1234 5678 9012 と mail taro@example.jp")
    tech = await broker_cloud.token(Role.TECH)
    command = (await issue(broker_cloud, tech, "mnt-k1", name="collect_logs")).json()
    done = await wait_state(broker_cloud, tech, command["command_id"], "succeeded", "failed")
    assert done["state"] == "succeeded" and done["output"]["lines"] > 0
    headers = {"Authorization": f"Bearer {tech}"}
    async with asyncio.timeout(20):
        while (
            response := await broker_cloud.client.get(
                f"/api/commands/{command['command_id']}/logs", headers=headers
            )
        ).status_code != 200:
            await asyncio.sleep(0.1)
    bundle = response.json()
    text = "\n".join(bundle["lines"])
    assert "resident_mistake" in text
    assert "1234 5678 9012" not in text and "taro@example.jp" not in text
    assert "[number]" in text and "[email]" in text
    assert len(text.encode()) < 64 * 1024
    operator = await broker_cloud.token(Role.OPERATOR)
    denied = await broker_cloud.client.get(
        f"/api/commands/{command['command_id']}/logs",
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert denied.status_code == 403


async def test_screenshot_outside_sessions_only(
    broker: Broker, broker_cloud: Cloud, state_dir: Path
) -> None:
    agent = KioskAgent(edge_settings(broker, "shot-k1", state_dir, screen_capture="test-pattern"))
    running = asyncio.create_task(agent.run())
    tech = await broker_cloud.token(Role.TECH)
    admin = await broker_cloud.token(Role.ADMIN)
    try:
        await asyncio.wait_for(agent.link.connected.wait(), 20)
        async with asyncio.timeout(20):
            while (
                await broker_cloud.client.get(
                    "/api/kiosks/shot-k1", headers={"Authorization": f"Bearer {tech}"}
                )
            ).status_code != 200:
                await asyncio.sleep(0.1)
        issued = (await issue(broker_cloud, tech, "shot-k1", name="screenshot")).json()
        done = await wait_state(broker_cloud, tech, issued["command_id"], "succeeded", "failed")
        assert done["state"] == "succeeded", done
        async with asyncio.timeout(20):
            while True:
                image = await broker_cloud.client.get(
                    f"/api/commands/{issued['command_id']}/screenshot",
                    headers={"Authorization": f"Bearer {tech}"},
                )
                if image.status_code == 200:
                    break
                await asyncio.sleep(0.1)
        assert image.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(image.content))
        assert picture.format == "JPEG" and picture.size == (640, 480)

        # A resident at the kiosk: refused at once, even when an admin forces it.
        agent.session.begin()
        forced = (await issue(broker_cloud, admin, "shot-k1", name="screenshot", force=True)).json()
        refused = await wait_state(broker_cloud, admin, forced["command_id"], "rejected")
        assert "resident" in refused["detail"]
        missing = await broker_cloud.client.get(
            f"/api/commands/{forced['command_id']}/screenshot",
            headers={"Authorization": f"Bearer {tech}"},
        )
        assert missing.status_code == 404
        agent.session.end()
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)
