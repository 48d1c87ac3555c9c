"""Applying kiosk messages to the registry.

Several control-plane replicas may apply the same retained state: each message is applied
in one transaction with the kiosk row locked (`FOR UPDATE` on PostgreSQL; SQLite serialises
writers), and every rule is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.fleet.models import Kiosk, KioskEvent, KioskStateChange
from protocol.v1 import EventMessage, StateMessage, TelemetryMessage

log = structlog.get_logger("cloud.fleet")


class StateOutcome:
    APPLIED = "applied"
    STALE = "stale"  # a will or goodbye from an older connection
    UNCHANGED = "unchanged"  # a repeat of what is already recorded
    UNKNOWN = "unknown_kiosk"


async def _locked_kiosk(db: AsyncSession, kiosk_id: str) -> Kiosk | None:
    return await db.scalar(select(Kiosk).where(Kiosk.kiosk_id == kiosk_id).with_for_update())


async def apply_state(*, db: AsyncSession, message: StateMessage, received_at: datetime) -> str:
    """The birth/death rule: a birth always makes the kiosk online (it is the newest word
    from a live connection); an offline counts only if it carries the current bd_seq."""
    kiosk = await _locked_kiosk(db, message.kiosk_id)
    peripherals = [p.model_dump() for p in message.peripherals]
    if message.status == "online":
        if kiosk is None:
            kiosk = Kiosk(kiosk_id=message.kiosk_id, last_telemetry_seq=0, host=None)
            db.add(kiosk)
        elif kiosk.status == "online" and kiosk.bd_seq == message.bd_seq:
            kiosk.last_seen_at = received_at
            return StateOutcome.UNCHANGED
        kiosk.site_id = message.site_id
        kiosk.status = "online"
        kiosk.bd_seq = message.bd_seq
        kiosk.online_since = received_at
        kiosk.last_seen_at = received_at
        kiosk.agent_version = message.agent_version
        kiosk.os_version = message.os_version
        kiosk.peripherals = peripherals
        cause = "birth"
    else:
        if kiosk is None:
            return StateOutcome.UNKNOWN
        if message.bd_seq != kiosk.bd_seq:
            log.info(
                "stale_offline_ignored",
                kiosk_id=message.kiosk_id,
                stale_bd_seq=message.bd_seq,
                bd_seq=kiosk.bd_seq,
            )
            return StateOutcome.STALE
        if kiosk.status == "offline":
            return StateOutcome.UNCHANGED
        kiosk.status = "offline"
        kiosk.online_since = None
        cause = "will" if message.will else "goodbye"
    await db.flush()
    db.add(
        KioskStateChange(
            kiosk_id=message.kiosk_id,
            status=kiosk.status,
            cause=cause,
            bd_seq=message.bd_seq,
            at=received_at,
        )
    )
    log.info(
        "kiosk_state",
        kiosk_id=message.kiosk_id,
        status=kiosk.status,
        cause=cause,
        bd_seq=message.bd_seq,
    )
    return StateOutcome.APPLIED


@dataclass(frozen=True, slots=True)
class TelemetryOutcome:
    site_id: str | None  # None: the kiosk has never sent a birth
    newest: bool  # it replaced the kiosk's health summary


async def apply_telemetry(
    *, db: AsyncSession, message: TelemetryMessage, received_at: datetime
) -> TelemetryOutcome:
    """Keep the newest health summary; a repeated or older `seq` changes nothing here (the
    time series still gets every reading, at its own time)."""
    kiosk = await _locked_kiosk(db, message.kiosk_id)
    if kiosk is None:
        return TelemetryOutcome(site_id=None, newest=False)
    if message.seq <= kiosk.last_telemetry_seq:
        return TelemetryOutcome(site_id=kiosk.site_id, newest=False)
    kiosk.last_telemetry_seq = message.seq
    kiosk.last_seen_at = received_at
    kiosk.host = message.host.model_dump()
    kiosk.peripherals = [p.model_dump() for p in message.peripherals]
    return TelemetryOutcome(site_id=kiosk.site_id, newest=True)


async def apply_event(*, db: AsyncSession, message: EventMessage, received_at: datetime) -> bool:
    """Record an event once per (kiosk, seq); a redelivery is a no-op."""
    exists = await db.scalar(
        select(KioskEvent.id).where(
            KioskEvent.kiosk_id == message.kiosk_id, KioskEvent.seq == message.seq
        )
    )
    if exists is not None:
        return False
    try:
        async with db.begin_nested():
            db.add(
                KioskEvent(
                    kiosk_id=message.kiosk_id,
                    seq=message.seq,
                    name=message.name,
                    severity=message.severity,
                    peripheral=message.peripheral,
                    attributes=dict(message.attributes),
                    sent_at=message.sent_at,
                    received_at=received_at,
                )
            )
    except IntegrityError:  # another replica recorded it first
        return False
    return True


async def list_kiosks(*, db: AsyncSession) -> list[Kiosk]:
    return list(await db.scalars(select(Kiosk).order_by(Kiosk.site_id, Kiosk.kiosk_id)))


async def get_kiosk(*, db: AsyncSession, kiosk_id: str) -> Kiosk | None:
    return await db.get(Kiosk, kiosk_id)


async def set_training(*, db: AsyncSession, kiosk_id: str, training: bool) -> Kiosk | None:
    """Flag a registered kiosk as a training kiosk (or not); None for an unknown kiosk."""
    kiosk = await _locked_kiosk(db, kiosk_id)
    if kiosk is None:
        return None
    kiosk.training = training
    await db.flush()
    return kiosk
