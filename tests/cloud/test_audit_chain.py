"""The audit log's hash chain: sealed in order, and any change, deletion or insertion is
found by `verify` and by `madoguchi audit verify`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from cloud.audit import service as audit
from cloud.audit.chain import SETTLE, STALE, seal, verify
from cloud.audit.models import AuditEntry
from cloud.db.engine import transaction
from tests.cloud.conftest import Cloud


@pytest.fixture
async def quiet_sealer(cloud: Cloud) -> Cloud:
    """The cloud without its background sealer: these tests seal at times of their own, and
    the app's sealer holding the lock at the same moment (PostgreSQL) would make a test's
    `seal` a no-op."""
    for task in asyncio.all_tasks():
        if task.get_name() == "audit":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return cloud


async def write(cloud: Cloud, n: int) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        for i in range(n):
            await audit.record(
                db=db,
                actor="tech1",
                action="command.issue",
                target=f"kiosk:k{i}",
                detail={"n": i, "名前": "なし"},
            )


async def check(cloud: Cloud, now: datetime):  # type: ignore[no-untyped-def]
    async with transaction(cloud.app.state.sessions) as db:
        return await verify(db=db, now=now)


async def test_tampering_deleting_or_inserting_is_detected(quiet_sealer: Cloud) -> None:
    cloud = quiet_sealer
    await write(cloud, 5)
    NOW = datetime.now(UTC)
    later = NOW + SETTLE + timedelta(seconds=1)
    async with transaction(cloud.app.state.sessions) as db:
        assert await seal(db=db, now=NOW) == 0  # not settled yet
        assert await seal(db=db, now=later) == 5
        assert await seal(db=db, now=later) == 0  # sealed once
    assert (await check(cloud, later)).ok

    await write(cloud, 2)  # new entries settle, then chain on
    later = datetime.now(UTC) + SETTLE + timedelta(seconds=1)
    async with transaction(cloud.app.state.sessions) as db:
        assert await seal(db=db, now=later) == 2
    result = await check(cloud, later)
    assert result.ok and result.sealed == 7

    async with transaction(cloud.app.state.sessions) as db:
        third = (await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()[2]
        await db.execute(
            update(AuditEntry).where(AuditEntry.id == third.id).values(actor="someone-else")
        )
    broken = await check(cloud, later)
    assert not broken.ok and broken.broken_at == third.id and broken.sealed == 2


async def test_a_deleted_entry_breaks_the_chain_at_the_next(quiet_sealer: Cloud) -> None:
    cloud = quiet_sealer
    await write(cloud, 4)
    NOW = datetime.now(UTC)
    later = NOW + SETTLE + timedelta(seconds=1)
    async with transaction(cloud.app.state.sessions) as db:
        await seal(db=db, now=later)
        ids = list(await db.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
        await db.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    result = await check(cloud, later)
    assert not result.ok and result.broken_at == ids[2]


async def test_an_entry_left_unsealed_is_reported(quiet_sealer: Cloud) -> None:
    cloud = quiet_sealer
    await write(cloud, 1)
    NOW = datetime.now(UTC)
    assert (await check(cloud, NOW)).ok  # settling is normal
    stale = await check(cloud, NOW + STALE + timedelta(seconds=1))
    assert not stale.ok and stale.reason == "left unsealed too long"


async def test_cli_verify_and_export(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    env = {**os.environ, "MADOGUCHI_CLOUD_DATABASE_URL": url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "madoguchi", "audit", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run("verify").returncode == 0
    # Entries written 20 s ago: the CLI seals them, and the chain holds.
    from cloud.db.engine import make_engine, make_sessionmaker
    from cloud.db.migrate import upgrade

    engine = make_engine(url)
    await upgrade(engine)
    async with transaction(make_sessionmaker(engine)) as db:
        for i in range(3):
            db.add(
                AuditEntry(
                    at=datetime.now(UTC) - timedelta(seconds=20),
                    actor="city1",
                    action="closure.add",
                    target="site:city-hall",
                    detail={"i": i},
                )
            )
    intact = run("verify")
    assert intact.returncode == 0 and "3 sealed" in intact.stdout
    async with transaction(make_sessionmaker(engine)) as db:
        await db.execute(update(AuditEntry).where(AuditEntry.id == 2).values(target="site:x"))
    await engine.dispose()
    broken = run("verify")
    assert broken.returncode == 1 and "BROKEN at entry 2" in broken.stderr
    exported = run("export", "--out", str(tmp_path / "audit.jsonl"))
    assert exported.returncode == 0
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and '"chain_hash"' in lines[0]
