"""Rolling an agent version out in throttled waves.

Each pass (the dispatcher's loop, every replica, `FOR UPDATE SKIP LOCKED`): follow the
sent commands to their results; when the current wave is finished and the interval has
passed, halt if failures reached the limit, else send the next wave of `update_agent`
commands; done when every kiosk answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.fleet.models import Kiosk
from cloud.maintenance.models import (
    FINAL_STATES,
    CommandState,
    KioskCommand,
    Rollout,
    RolloutTarget,
)
from cloud.maintenance.service import issue_command

COMMAND_TTL = timedelta(minutes=30)


async def create_rollout(
    *,
    db: AsyncSession,
    version: str,
    url: str,
    sha256: str,
    site_id: str | None,
    wave_size: int,
    wave_interval_s: int,
    max_failures: int,
    created_by: str,
    now: datetime,
) -> Rollout:
    query = select(Kiosk.kiosk_id).order_by(Kiosk.kiosk_id)
    if site_id is not None:
        query = query.where(Kiosk.site_id == site_id)
    kiosks = list(await db.scalars(query))
    rollout = Rollout(
        version=version,
        url=url,
        sha256=sha256,
        wave_size=wave_size,
        wave_interval_s=wave_interval_s,
        max_failures=max_failures,
        state="running" if kiosks else "done",
        created_by=created_by,
        created_at=now,
    )
    db.add(rollout)
    await db.flush()
    for kiosk_id in kiosks:
        db.add(RolloutTarget(rollout_id=rollout.id, kiosk_id=kiosk_id, state="waiting"))
    await record(
        db=db,
        actor=created_by,
        action="rollout.create",
        target=f"version:{version}",
        detail={"kiosks": len(kiosks), "wave_size": wave_size, "site_id": site_id},
    )
    await db.flush()
    return rollout


async def advance(*, db: AsyncSession, now: datetime) -> int:
    """One pass over the running rollouts; returns the commands issued."""
    issued = 0
    rollouts = list(
        await db.scalars(
            select(Rollout).where(Rollout.state == "running").with_for_update(skip_locked=True)
        )
    )
    for rollout in rollouts:
        targets = list(
            await db.scalars(select(RolloutTarget).where(RolloutTarget.rollout_id == rollout.id))
        )
        for target in targets:
            if target.state == "sent" and target.command_id:
                command = await db.get(KioskCommand, target.command_id)
                if command is not None and command.state in FINAL_STATES:
                    target.state = (
                        "succeeded" if command.state == CommandState.SUCCEEDED else "failed"
                    )
        in_flight = [t for t in targets if t.state == "sent"]
        waiting = sorted((t for t in targets if t.state == "waiting"), key=lambda t: t.kiosk_id)
        failures = sum(1 for t in targets if t.state == "failed")
        if in_flight:
            continue
        if failures >= rollout.max_failures:
            rollout.state = "halted"
            await record(
                db=db,
                actor="system",
                action="rollout.halted",
                target=f"rollout:{rollout.id}",
                detail={"failures": failures},
            )
            continue
        if not waiting:
            rollout.state = "done"
            continue
        if rollout.last_wave_at and now - rollout.last_wave_at < timedelta(
            seconds=rollout.wave_interval_s
        ):
            continue
        wave = 1 + max((t.wave or 0) for t in targets)
        for target in waiting[: rollout.wave_size]:
            command = await issue_command(
                db=db,
                kiosk_id=target.kiosk_id,
                name="update_agent",
                args={"version": rollout.version, "url": rollout.url, "sha256": rollout.sha256},
                force=False,  # waits for the resident's session to end
                issued_by=f"rollout:{rollout.id}",
                ttl=COMMAND_TTL,
            )
            target.command_id, target.state, target.wave = command.command_id, "sent", wave
            issued += 1
        rollout.last_wave_at = now
    await db.flush()
    return issued
