"""Connection-test runs: start one for a site's kiosks, authenticate the probe, keep the
reports the kiosks send, and tell a run's verdict.

A run sends `site_check` to every kiosk the fleet registry places at the site. Each kiosk
gets its own probe token (only the SHA-256 is kept), valid until the run's deadline and
only for that kiosk, and its own ephemeral TURN credential. The command row keeps the args
without either secret; the message the kiosk receives carries them.

A kiosk's status in a run: `passed`/`failed` by its report; `failed` when its command ended
without a report (refused, expired) or when the deadline passed without an answer
("no answer"); `pending` until then. The run passed only when every kiosk passed.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.fleet.models import Kiosk
from cloud.maintenance import service as maintenance
from cloud.maintenance.models import CommandState, KioskCommand
from cloud.site_checks.models import SiteCheckKiosk, SiteCheckRun
from cloud.turn.credentials import TurnSettings, ephemeral_credential
from protocol.v1 import CommandMessage, SiteCheckMessage
from provisioning.enrollment import hash_token

log = structlog.get_logger("cloud.site_checks")

PROBE_PATH = "/api/kiosk-probe"
MAX_TURN_URLS = 2  # the kiosk checks each; a call uses the first
NOT_STORED = "(not stored)"

KioskStatus = Literal["pending", "passed", "failed"]


class ProbeRefusedError(Exception):
    """The probe token is unknown, expired or for another kiosk."""


@dataclass(frozen=True, slots=True)
class KioskCheckResult:
    kiosk_id: str
    status: KioskStatus
    detail: str
    items: list[dict[str, Any]]
    reported_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunReport:
    """A run as the API shows it, pending or finished."""

    run_id: str
    site_id: str
    status: KioskStatus  # pending until every kiosk has answered or the deadline passed
    passed: bool  # every kiosk passed
    requested_by: str
    requested_at: datetime
    deadline: datetime
    finished_at: datetime | None  # None while pending
    kiosks: tuple[KioskCheckResult, ...]


@dataclass(frozen=True, slots=True)
class SiteCheckResult:
    """A finished run, as the site's lifecycle sees it (`latest_result`)."""

    run_id: str
    passed: bool
    finished_at: datetime
    kiosks: tuple[KioskCheckResult, ...]


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A command to publish, with the secrets its stored row leaves out."""

    command: KioskCommand
    message: CommandMessage


async def site_kiosks(*, db: AsyncSession, site_id: str) -> list[str]:
    """The kiosks the fleet registry places at the site (by their birth's `site_id`)."""
    rows = await db.scalars(
        select(Kiosk.kiosk_id).where(Kiosk.site_id == site_id).order_by(Kiosk.kiosk_id)
    )
    return list(rows)


def _turn_args(
    turn: TurnSettings, *, kiosk_id: str, ttl: timedelta, now: datetime
) -> dict[str, str]:
    if not turn.urls:
        return {}
    # The credential lives as long as the run, not as long as a call's.
    short = turn.model_copy(update={"ttl_s": max(60, int(ttl.total_seconds()))})
    username, password = ephemeral_credential(short, who=kiosk_id, now=now)
    return {
        "turn_urls": ",".join(turn.urls[:MAX_TURN_URLS]),
        "turn_username": username,
        "turn_credential": password,
    }


async def start_run(
    *,
    db: AsyncSession,
    site_id: str,
    kiosk_ids: list[str],
    requested_by: str,
    peripherals: list[str],
    public_url: str,
    turn: TurnSettings,
    answer_timeout: timedelta,
    now: datetime,
) -> tuple[SiteCheckRun, list[Dispatch]]:
    """Record the run and one `sent` command per kiosk (audited); returns the messages to
    publish. Nothing is published here: the caller commits first, so that no answer can
    arrive before its command is known."""
    run = SiteCheckRun(
        run_id=str(uuid.uuid4()),
        site_id=site_id,
        requested_by=requested_by,
        requested_at=now,
        deadline=now + answer_timeout,
        peripherals=peripherals,
    )
    db.add(run)
    probe_url = public_url.rstrip("/") + PROBE_PATH
    dispatches = []
    for kiosk_id in kiosk_ids:
        token = secrets.token_urlsafe(32)
        secret_args = {
            "probe_token": token,
            **_turn_args(turn, kiosk_id=kiosk_id, ttl=answer_timeout, now=now),
        }
        public_args = {"probe_url": probe_url, "peripherals": ",".join(peripherals)}
        stored = {
            **public_args,
            **secret_args,
            "probe_token": NOT_STORED,
            **({"turn_credential": NOT_STORED} if "turn_credential" in secret_args else {}),
        }
        command = await maintenance.issue_command(
            db=db,
            kiosk_id=kiosk_id,
            name="site_check",
            args=stored,
            force=False,
            issued_by=requested_by,
            ttl=answer_timeout,
        )
        # Sent by the caller right after the commit, never by the dispatcher (whose copy of
        # the args has no secrets).
        await maintenance.mark_sent(db=db, command=command)
        db.add(
            SiteCheckKiosk(
                run_id=run.run_id,
                kiosk_id=kiosk_id,
                command_id=command.command_id,
                probe_token_hash=hash_token(token),
                passed=None,
                items=[],
            )
        )
        message = CommandMessage.model_validate(
            {
                **maintenance.to_message(command, seq=0).model_dump(),
                "args": {**public_args, **secret_args},
            }
        )
        dispatches.append(Dispatch(command=command, message=message))
    await db.flush()
    await record(
        db=db,
        actor=requested_by,
        action="site_check.start",
        target=f"site:{site_id}",
        detail={"run_id": run.run_id, "kiosks": kiosk_ids, "peripherals": peripherals},
    )
    return run, dispatches


async def mark_unsent(*, db: AsyncSession, command_ids: list[str], reason: str) -> None:
    """Commands that never reached the broker: failed, so the run shows why at once."""
    for command_id in command_ids:
        command = await db.get(KioskCommand, command_id)
        if command is not None and command.state == CommandState.SENT:
            command.state = CommandState.FAILED
            command.detail = reason
            command.updated_at = datetime.now(UTC)


async def probe_kiosk(*, db: AsyncSession, token: str, kiosk_id: str, now: datetime) -> str:
    """The kiosk a probe token stands for; `ProbeRefusedError` otherwise."""
    row = await db.scalar(
        select(SiteCheckKiosk).where(SiteCheckKiosk.probe_token_hash == hash_token(token))
    )
    if row is None:
        raise ProbeRefusedError("unknown probe token")
    if row.kiosk_id != kiosk_id:
        raise ProbeRefusedError("this probe token was issued for another kiosk")
    run = await db.get(SiteCheckRun, row.run_id)
    if run is None or run.deadline <= now:
        raise ProbeRefusedError("this probe token has expired")
    return row.kiosk_id


async def store_report(*, db: AsyncSession, message: SiteCheckMessage, now: datetime) -> bool:
    """Keep a kiosk's report if it answers that kiosk's check in a run still open; every
    refusal is logged (ids and reason only) and stores nothing."""
    row = await db.scalar(
        select(SiteCheckKiosk)
        .where(SiteCheckKiosk.command_id == str(message.command_id))
        .with_for_update()
    )
    reason = None
    run = await db.get(SiteCheckRun, row.run_id) if row is not None else None
    if row is None or run is None:
        reason = "no connection test was sent with this command id"
    elif row.kiosk_id != message.kiosk_id:
        reason = "the command was sent to another kiosk"
    elif run.site_id != message.site_id:
        reason = "the report names another site than the run's"
    elif row.reported_at is not None:
        reason = "this kiosk has already reported for the run"
    elif now > run.deadline:
        reason = "the run's deadline has passed"
    if reason is not None:
        log.warning(
            "site_check_refused",
            kiosk_id=message.kiosk_id,
            command_id=str(message.command_id),
            reason=reason,
        )
        return False
    assert row is not None
    row.passed = message.passed
    row.items = [item.model_dump(mode="json") for item in message.items]
    row.reported_at = now
    await record(
        db=db,
        actor=f"kiosk:{message.kiosk_id}",
        action="site_check.report",
        target=f"site:{message.site_id}",
        detail={"run_id": row.run_id, "passed": message.passed},
    )
    return True


def _kiosk_result(
    row: SiteCheckKiosk, command: KioskCommand | None, run: SiteCheckRun, now: datetime
) -> tuple[KioskCheckResult, datetime | None]:
    """A kiosk's status, and when it was settled."""
    if row.reported_at is not None:
        failing = [item["name"] for item in row.items if not item.get("passed")]
        detail = "failing: " + ", ".join(failing) if failing else "every check passed"
        status: KioskStatus = "passed" if row.passed else "failed"
        return KioskCheckResult(row.kiosk_id, status, detail, row.items, row.reported_at), (
            row.reported_at
        )
    silent = command is not None and command.state == CommandState.TIMED_OUT
    if now > run.deadline or silent:
        return KioskCheckResult(row.kiosk_id, "failed", "no answer", [], None), run.deadline
    ended_without_report = command is not None and command.state in (
        CommandState.REJECTED,
        CommandState.EXPIRED,
        CommandState.FAILED,
    )
    if ended_without_report:
        assert command is not None
        detail = f"{command.state}: {command.detail}" if command.detail else command.state
        return KioskCheckResult(row.kiosk_id, "failed", detail, [], None), command.updated_at
    return KioskCheckResult(row.kiosk_id, "pending", "waiting for the kiosk", [], None), None


async def run_result(*, db: AsyncSession, run: SiteCheckRun, now: datetime) -> RunReport:
    rows = list(
        await db.scalars(
            select(SiteCheckKiosk)
            .where(SiteCheckKiosk.run_id == run.run_id)
            .order_by(SiteCheckKiosk.kiosk_id)
        )
    )
    kiosks = []
    settled_at: list[datetime] = []
    for row in rows:
        command = await db.get(KioskCommand, row.command_id)
        result, settled = _kiosk_result(row, command, run, now)
        kiosks.append(result)
        if settled is not None:
            settled_at.append(settled)
    statuses = {kiosk.status for kiosk in kiosks}
    status: KioskStatus
    if "pending" in statuses:
        status = "pending"
    elif statuses == {"passed"}:
        status = "passed"
    else:
        status = "failed"
    finished = max(settled_at) if status != "pending" and settled_at else None
    return RunReport(
        run_id=run.run_id,
        site_id=run.site_id,
        status=status,
        passed=status == "passed",
        requested_by=run.requested_by,
        requested_at=run.requested_at,
        deadline=run.deadline,
        finished_at=finished,
        kiosks=tuple(kiosks),
    )


async def get_run(*, db: AsyncSession, site_id: str, run_id: str | None) -> SiteCheckRun | None:
    """A run of the site by id, or the site's newest run."""
    if run_id is not None:
        run = await db.get(SiteCheckRun, run_id)
        return run if run is not None and run.site_id == site_id else None
    return await db.scalar(
        select(SiteCheckRun)
        .where(SiteCheckRun.site_id == site_id)
        .order_by(SiteCheckRun.requested_at.desc())
        .limit(1)
    )


async def latest_result(db: AsyncSession, site_id: str) -> SiteCheckResult | None:
    """The site's newest finished run (a run still waiting for kiosks is skipped), or None
    when the site has none: what `site open` consults."""
    now = datetime.now(UTC)
    runs = await db.scalars(
        select(SiteCheckRun)
        .where(SiteCheckRun.site_id == site_id)
        .order_by(SiteCheckRun.requested_at.desc())
        .limit(20)
    )
    for run in list(runs):
        report = await run_result(db=db, run=run, now=now)
        if report.finished_at is not None:
            return SiteCheckResult(
                run_id=report.run_id,
                passed=report.passed,
                finished_at=report.finished_at,
                kiosks=report.kiosks,
            )
    return None
