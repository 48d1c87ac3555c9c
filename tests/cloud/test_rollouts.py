"""Rolling an agent version out in waves: one wave at a time, halted by failures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.maintenance import rollouts
from cloud.maintenance import service as maintenance
from cloud.maintenance.models import Rollout, RolloutTarget
from protocol.v1 import CommandResultMessage
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import apply, state

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SHA = "a" * 64


async def answer(cloud: Cloud, kiosk_id: str, command_id: str, status: str) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        applied = await maintenance.apply_result(
            db=db,
            message=CommandResultMessage(
                kiosk_id=kiosk_id,
                sent_at=T0,
                seq=int(uuid.uuid4().int % 10**9),
                command_id=uuid.UUID(command_id),
                name="update_agent",
                status=status,  # type: ignore[arg-type]
                detail="",
            ),
        )
    assert applied


async def targets(cloud: Cloud, rollout_id: int) -> dict[str, RolloutTarget]:
    async with transaction(cloud.app.state.sessions) as db:
        rows = await db.scalars(select(RolloutTarget).where(RolloutTarget.rollout_id == rollout_id))
        return {t.kiosk_id: t for t in rows}


async def test_waves_go_one_at_a_time_and_failures_halt_the_rollout(cloud: Cloud) -> None:
    for kiosk in ("ro-k1", "ro-k2", "ro-k3"):
        await apply(cloud, state("online", 1, kiosk=kiosk))
    admin = await cloud.token(Role.ADMIN)
    tech = await cloud.token(Role.TECH)
    body = {
        "version": "2.0.0",
        "url": "https://mirror.example.jp/madoguchi-2.0.0.tar.gz",
        "sha256": SHA,
        "site_id": "city-hall",
        "wave_size": 1,
        "wave_interval_s": 60,
        "max_failures": 1,
    }
    denied = await cloud.client.post(
        "/api/rollouts", json=body, headers={"Authorization": f"Bearer {tech}"}
    )
    assert denied.status_code == 403
    created = await cloud.client.post(
        "/api/rollouts", json=body, headers={"Authorization": f"Bearer {admin}"}
    )
    assert created.status_code == 201, created.text
    rollout_id = created.json()["id"]

    async def advance(at: datetime) -> int:
        async with transaction(cloud.app.state.sessions) as db:
            return await rollouts.advance(db=db, now=at)

    assert await advance(T0) == 1
    first = await targets(cloud, rollout_id)
    assert [k for k, t in first.items() if t.state == "sent"] == ["ro-k1"]
    assert await advance(T0 + timedelta(minutes=5)) == 0  # wave 1 still in flight
    await answer(cloud, "ro-k1", str(first["ro-k1"].command_id), "succeeded")
    assert await advance(T0 + timedelta(seconds=30)) == 0  # the interval has not passed
    assert await advance(T0 + timedelta(minutes=2)) == 1
    second = await targets(cloud, rollout_id)
    assert second["ro-k1"].state == "succeeded" and second["ro-k2"].state == "sent"
    await answer(cloud, "ro-k2", str(second["ro-k2"].command_id), "failed")
    assert await advance(T0 + timedelta(minutes=10)) == 0
    async with transaction(cloud.app.state.sessions) as db:
        rollout = await db.get(Rollout, rollout_id)
    assert rollout is not None and rollout.state == "halted"
    final = await targets(cloud, rollout_id)
    assert final["ro-k3"].state == "waiting"  # never touched
    status = await cloud.client.get(
        f"/api/rollouts/{rollout_id}", headers={"Authorization": f"Bearer {tech}"}
    )
    assert status.json()["state"] == "halted"
    assert [t["state"] for t in status.json()["targets"]] == ["succeeded", "failed", "waiting"]
