"""Commands: issue, hand to the broker, apply results, time out. Every step is audited.

A state only moves forward; a final state never changes again, so duplicate or late
results (a redelivery, a second replica) are harmless.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.maintenance.models import (
    FINAL_STATES,
    CommandState,
    KioskCommand,
    KioskLogBundle,
    KioskScreenshot,
)
from protocol.v1 import CommandMessage, CommandResultMessage, LogBundleMessage, ScreenshotMessage

# Where each state stands; a result may only move a command to a later rank.
_RANK = {
    CommandState.QUEUED: 0,
    CommandState.SENT: 1,
    CommandState.DEFERRED: 2,
    CommandState.ACCEPTED: 3,
}


def _rank(state: str) -> int:
    return 9 if state in FINAL_STATES else _RANK[CommandState(state)]


async def issue_command(
    *,
    db: AsyncSession,
    kiosk_id: str,
    name: str,
    args: dict[str, Any],
    force: bool,
    issued_by: str,
    ttl: timedelta,
) -> KioskCommand:
    now = datetime.now(UTC)
    command = KioskCommand(
        command_id=str(uuid.uuid4()),
        kiosk_id=kiosk_id,
        name=name,
        args=args,
        force=force,
        issued_by=issued_by,
        issued_at=now,
        expires_at=now + ttl,
        state=CommandState.QUEUED,
        detail="",
        output={},
        updated_at=now,
    )
    db.add(command)
    await db.flush()
    await record(
        db=db,
        actor=issued_by,
        action="command.issue",
        target=f"kiosk:{kiosk_id}",
        detail={"command_id": command.command_id, "name": name, "force": force, "args": args},
    )
    return command


def to_message(command: KioskCommand, *, seq: int) -> CommandMessage:
    return CommandMessage.model_validate(
        {
            "kiosk_id": command.kiosk_id,
            "sent_at": datetime.now(UTC),
            "seq": seq,
            "command_id": command.command_id,
            "name": command.name,
            "args": command.args,
            "issued_by": command.issued_by,
            "expires_at": command.expires_at,
            "force": command.force,
        },
        strict=False,
    )


async def due_for_sending(
    *, db: AsyncSession, now: datetime, limit: int = 100
) -> list[KioskCommand]:
    """Queued, unexpired commands, locked so that another replica skips them."""
    query = (
        select(KioskCommand)
        .where(KioskCommand.state == CommandState.QUEUED, KioskCommand.expires_at > now)
        .order_by(KioskCommand.issued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await db.scalars(query))


async def mark_sent(*, db: AsyncSession, command: KioskCommand) -> None:
    if command.state == CommandState.QUEUED:
        command.state = CommandState.SENT
        command.updated_at = datetime.now(UTC)
        await record(
            db=db,
            actor="system",
            action="command.sent",
            target=f"kiosk:{command.kiosk_id}",
            detail={"command_id": command.command_id},
        )


async def apply_result(*, db: AsyncSession, message: CommandResultMessage) -> bool:
    """Move the command forward by the kiosk's answer; False if it changes nothing."""
    command = await db.scalar(
        select(KioskCommand)
        .where(KioskCommand.command_id == str(message.command_id))
        .with_for_update()
    )
    if command is None or command.kiosk_id != message.kiosk_id:
        return False  # not ours, or another kiosk answering for it
    new_state = CommandState(message.status)
    if _rank(new_state) <= _rank(command.state):
        return False
    command.state = new_state
    command.detail = message.detail
    command.output = dict(message.output)
    command.updated_at = datetime.now(UTC)
    await record(
        db=db,
        actor=f"kiosk:{message.kiosk_id}",
        action="command.result",
        target=f"kiosk:{message.kiosk_id}",
        detail={
            "command_id": command.command_id,
            "state": new_state.value,
            "detail": message.detail,
        },
    )
    return True


async def time_out_unanswered(*, db: AsyncSession, now: datetime, grace: timedelta) -> int:
    """Commands with no final answer well after expiry become `timed_out`."""
    stale = list(
        await db.scalars(
            select(KioskCommand)
            .where(
                KioskCommand.state.not_in([s.value for s in FINAL_STATES]),
                KioskCommand.expires_at < now - grace,
            )
            .with_for_update(skip_locked=True)
        )
    )
    for command in stale:
        command.state = CommandState.TIMED_OUT
        command.detail = "no answer from the kiosk before the command expired"
        command.updated_at = now
        await record(
            db=db,
            actor="system",
            action="command.timed_out",
            target=f"kiosk:{command.kiosk_id}",
            detail={"command_id": command.command_id},
        )
    return len(stale)


async def list_commands(*, db: AsyncSession, kiosk_id: str, limit: int = 50) -> list[KioskCommand]:
    return list(
        await db.scalars(
            select(KioskCommand)
            .where(KioskCommand.kiosk_id == kiosk_id)
            .order_by(KioskCommand.issued_at.desc())
            .limit(limit)
        )
    )


async def get_command(*, db: AsyncSession, command_id: str) -> KioskCommand | None:
    return await db.get(KioskCommand, command_id)


async def store_logs(*, db: AsyncSession, message: LogBundleMessage) -> bool:
    """Keep the bundle if it answers a command to that very kiosk (once)."""
    command = await db.get(KioskCommand, str(message.command_id))
    if command is None or command.kiosk_id != message.kiosk_id or command.name != "collect_logs":
        return False
    if await db.get(KioskLogBundle, command.command_id) is not None:
        return False
    db.add(
        KioskLogBundle(
            command_id=command.command_id,
            kiosk_id=message.kiosk_id,
            lines=list(message.lines),
            truncated=message.truncated,
            received_at=datetime.now(UTC),
        )
    )
    await record(
        db=db,
        actor=f"kiosk:{message.kiosk_id}",
        action="logs.received",
        target=f"kiosk:{message.kiosk_id}",
        detail={"command_id": command.command_id, "lines": len(message.lines)},
    )
    return True


async def get_logs(*, db: AsyncSession, command_id: str) -> KioskLogBundle | None:
    return await db.get(KioskLogBundle, command_id)


async def store_screenshot(*, db: AsyncSession, message: ScreenshotMessage) -> bool:
    """Keep the screen with its command, if the command was a screenshot for that kiosk."""
    command = await db.get(KioskCommand, str(message.command_id))
    if command is None or command.kiosk_id != message.kiosk_id or command.name != "screenshot":
        return False
    if await db.get(KioskScreenshot, command.command_id) is not None:
        return False  # a redelivery
    try:
        jpeg = base64.b64decode(message.jpeg_base64, validate=True)
    except ValueError:
        return False
    if not jpeg.startswith(b"\xff\xd8"):
        return False  # not a JPEG
    db.add(
        KioskScreenshot(
            command_id=command.command_id,
            kiosk_id=message.kiosk_id,
            taken_at=message.sent_at,
            width=message.width,
            height=message.height,
            jpeg=jpeg,
        )
    )
    await db.flush()
    return True


async def get_screenshot(*, db: AsyncSession, command_id: str) -> KioskScreenshot | None:
    return await db.get(KioskScreenshot, command_id)
