"""The purge: deletes what is past its retention period, nothing else, and says so once.

Each rule names a table, the time its retention counts from, and any condition that keeps a
row regardless (a call still in progress, a command not yet answered). A run deletes, per
rule, the rows older than `now - retention`, then appends **one** audit entry with the count
per record type (never any content). `dry_run` counts without deleting or auditing.

The audit log is purged too, oldest first and only sealed entries; the newest sealed entry
always stays (the sealer chains from it) and the last entry removed becomes the chain's
anchor (`AuditAnchor`), from which `madoguchi audit verify` resumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cloud.alerts.models import Alert
from cloud.attendance.models import SupportAttendance
from cloud.audit import service as audit
from cloud.audit.models import AuditEntry
from cloud.auth.models import ApiToken
from cloud.calendar.models import SiteClosure
from cloud.db.base import Base
from cloud.fleet.models import KioskEvent, KioskStateChange
from cloud.inspections.models import Incident, Inspection
from cloud.maintenance.models import (
    FINAL_STATES,
    KioskCommand,
    KioskLogBundle,
    KioskScreenshot,
    Rollout,
    RolloutTarget,
)
from cloud.privacy.models import AuditAnchor
from cloud.privacy.settings import RetentionSettings
from cloud.routing.models import (
    CallInvite,
    CallRecord,
    CallSignal,
    CallState,
    StaffingGap,
    SupportCase,
)

log = structlog.get_logger("cloud.privacy")

PURGE_ACTION = "privacy.purge"
_LOCK_KEY = 0x70757267  # "purg": one purge at a time across replicas (PostgreSQL)


@dataclass(frozen=True, slots=True)
class PurgeRule:
    """`key` names the retention setting (and the record type in the audit entry)."""

    key: str
    counted_from: InstrumentedAttribute[Any]  # the column the period counts from
    keep: Callable[[], ColumnElement[bool]] | None = None  # rows kept regardless
    keep_label: str = ""

    @property
    def model(self) -> type[Base]:
        model = self.counted_from.class_
        assert isinstance(model, type) and issubclass(model, Base)  # a mapped class, not an alias
        return model

    @property
    def counted_from_label(self) -> str:
        """For the inventory: what the period counts from."""
        return self.counted_from.key


RULES: tuple[PurgeRule, ...] = (
    PurgeRule(
        "call",
        CallRecord.requested_at,
        lambda: CallRecord.state != CallState.ENDED,
        "calls not yet ended",
    ),
    PurgeRule("support_case", SupportCase.recorded_at),
    PurgeRule("support_attendance", SupportAttendance.day),
    PurgeRule("inspection", Inspection.inspected_on),
    PurgeRule("incident", Incident.occurred_at),
    PurgeRule("site_closure", SiteClosure.date),
    PurgeRule(
        "staffing_gap",
        StaffingGap.started_at,
        lambda: StaffingGap.ended_at.is_(None),
        "gaps still open",
    ),
    PurgeRule("kiosk_state_change", KioskStateChange.at),
    PurgeRule("kiosk_event", KioskEvent.received_at),
    PurgeRule(
        "kiosk_command",
        KioskCommand.issued_at,
        lambda: KioskCommand.state.not_in([s.value for s in FINAL_STATES]),
        "commands not yet answered",
    ),
    PurgeRule("kiosk_log_bundle", KioskLogBundle.received_at),
    PurgeRule("kiosk_screenshot", KioskScreenshot.taken_at),
    PurgeRule(
        "alert",
        Alert.opened_at,
        lambda: Alert.resolved_at.is_(None),
        "alerts still open",
    ),
    PurgeRule(
        "rollout",
        Rollout.created_at,
        lambda: Rollout.state == "running",
        "rollouts still running",
    ),
    PurgeRule("call_invite", CallInvite.expires_at),
    PurgeRule("call_signal", CallSignal.created_at),
    PurgeRule("api_token", ApiToken.expires_at),
    PurgeRule(
        "audit_entry",
        AuditEntry.at,
        lambda: AuditEntry.chain_hash.is_(None),
        "entries not yet sealed, and the newest sealed entry",
    ),
)
RULES_BY_TABLE: dict[str, PurgeRule] = {rule.model.__tablename__: rule for rule in RULES}


def retention_days(retention: RetentionSettings, rule: PurgeRule) -> int:
    days: int = getattr(retention, rule.key)
    return days


def _python_type_is_date(column: InstrumentedAttribute[Any]) -> bool:
    try:
        return column.type.python_type is date
    except NotImplementedError:
        return False


@dataclass(frozen=True, slots=True)
class PurgeReport:
    counts: dict[str, int]
    dry_run: bool
    at: datetime

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def _audit_condition(db: AsyncSession, cutoff: datetime) -> ColumnElement[bool] | None:
    newest_sealed = await db.scalar(
        select(func.max(AuditEntry.id)).where(AuditEntry.chain_hash.is_not(None))
    )
    if newest_sealed is None:
        return None
    return and_(
        AuditEntry.at < cutoff,
        AuditEntry.chain_hash.is_not(None),
        AuditEntry.id < newest_sealed,
    )


async def purge(
    *,
    db: AsyncSession,
    retention: RetentionSettings,
    now: datetime,
    dry_run: bool = False,
    actor: str = "system",
) -> PurgeReport:
    """Delete (or, with `dry_run`, count) every row past its retention period."""
    if not dry_run and db.get_bind().dialect.name == "postgresql":
        locked = await db.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if not locked:
            return PurgeReport({}, dry_run, now)  # another replica is purging
    counts: dict[str, int] = {}
    for rule in RULES:
        cutoff = now - timedelta(days=retention_days(retention, rule))
        if rule.model is AuditEntry:
            condition = await _audit_condition(db, cutoff)
            if condition is None:
                counts[rule.key] = 0
                continue
        else:
            limit: datetime | date = (
                cutoff.date() if _python_type_is_date(rule.counted_from) else cutoff
            )
            condition = rule.counted_from < limit
            if rule.keep is not None:
                condition = and_(condition, ~rule.keep())
        table = rule.model.__table__
        counts[rule.key] = int(
            await db.scalar(select(func.count()).select_from(table).where(condition)) or 0
        )
        if dry_run or not counts[rule.key]:
            continue
        if rule.model is Rollout:
            # Its targets go with it (SQLite enforces the cascade only with foreign keys on).
            await db.execute(
                delete(RolloutTarget).where(
                    RolloutTarget.rollout_id.in_(select(Rollout.id).where(condition))
                )
            )
        if rule.model is AuditEntry:
            last = await db.scalar(
                select(AuditEntry).where(condition).order_by(AuditEntry.id.desc()).limit(1)
            )
            assert last is not None and last.chain_hash is not None
            await _set_anchor(db, last.id, last.chain_hash, now)
        await db.execute(delete(rule.model).where(condition))
    report = PurgeReport(counts, dry_run, now)
    if not dry_run:
        await audit.record(
            db=db,
            actor=actor,
            action=PURGE_ACTION,
            target="retention",
            detail={"deleted": counts, "total": report.total},
        )
    log.info("privacy_purge", dry_run=dry_run, total=report.total, **counts)
    return report


async def _set_anchor(db: AsyncSession, entry_id: int, chain_hash: str, now: datetime) -> None:
    anchor = await db.get(AuditAnchor, 1)
    if anchor is None:
        db.add(AuditAnchor(id=1, entry_id=entry_id, chain_hash=chain_hash, set_at=now))
    else:
        anchor.entry_id, anchor.chain_hash, anchor.set_at = entry_id, chain_hash, now
    await db.flush()


class PurgeJob:
    """Runs the purge inside the control plane: a first run shortly after start-up, then
    every `interval_s`. A failing run is logged and tried again at the next interval."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        retention: RetentionSettings,
        interval_s: float,
        first_delay_s: float,
    ) -> None:
        self._sessions = sessions
        self._retention = retention
        self._interval_s = interval_s
        self._first_delay_s = first_delay_s

    async def run_once(self) -> PurgeReport:
        async with self._sessions() as db, db.begin():
            return await purge(db=db, retention=self._retention, now=datetime.now(UTC))

    async def run(self) -> None:
        await asyncio.sleep(self._first_delay_s)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("privacy_purge_failed")
            await asyncio.sleep(self._interval_s)
