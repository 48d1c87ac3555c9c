"""Evaluates the alert rules over the fleet every few seconds and sends notifications.

One replica evaluates at a time (a PostgreSQL advisory lock; SQLite has one writer anyway).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alerts import service
from cloud.alerts.notifier import WebhookNotifier
from cloud.alerts.rules import AlertThresholds, conditions
from cloud.fleet.service import list_kiosks
from cloud.shifts.service import coverage_conditions

log = structlog.get_logger("cloud.alerts")

ADVISORY_LOCK = 730_128  # any constant unique to this job


class OpeningHoursSource(Protocol):
    async def refresh(self, *, db: AsyncSession, now: datetime) -> None: ...

    def __call__(self, site_id: str, now: datetime) -> bool: ...


class AlwaysOpen:
    """For tests and sites without a calendar: every hour counts."""

    async def refresh(self, *, db: AsyncSession, now: datetime) -> None:
        return None

    def __call__(self, site_id: str, now: datetime) -> bool:
        return True


class AlertEvaluator:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        notifier: WebhookNotifier,
        thresholds: AlertThresholds,
        is_open: OpeningHoursSource | None = None,
        interval_s: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._thresholds = thresholds
        self._is_open: OpeningHoursSource = is_open or AlwaysOpen()
        self._interval_s = interval_s

    async def evaluate(self, *, now: datetime | None = None) -> tuple[int, int]:
        """One pass: returns (opened, resolved)."""
        now = now or datetime.now(UTC)
        async with self._sessions() as db, db.begin():
            if db.get_bind().dialect.name == "postgresql":
                got = await db.scalar(text(f"SELECT pg_try_advisory_xact_lock({ADVISORY_LOCK})"))
                if not got:
                    return 0, 0
            await self._is_open.refresh(db=db, now=now)
            found = [
                condition
                for kiosk in await list_kiosks(db=db)
                if not kiosk.training  # a training kiosk never alerts the city
                for condition in conditions(
                    kiosk,
                    now=now,
                    open_now=self._is_open(kiosk.site_id, now),
                    thresholds=self._thresholds,
                )
            ]
            found += await coverage_conditions(db=db, now=now, is_open=self._is_open)
            opened, resolved = await service.reconcile(db=db, found=found, now=now)
        for alert in opened:
            log.warning("alert_opened", kiosk_id=alert.kiosk_id, kind=alert.kind)
        for alert in resolved:
            log.info("alert_resolved", kiosk_id=alert.kiosk_id, kind=alert.kind)
        await self.notify()
        return len(opened), len(resolved)

    async def notify(self) -> None:
        async with self._sessions() as db, db.begin():
            for alert in await service.unnotified(db=db):
                if not alert.notified_open:
                    if not await self._notifier.send(alert, event="firing"):
                        return  # the receiver is down: try again next pass, in order
                    alert.notified_open = True
                if alert.resolved_at is not None and not alert.notified_resolved:
                    if not await self._notifier.send(alert, event="resolved"):
                        return
                    alert.notified_resolved = True

    async def run(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception:
                log.exception("alert_evaluation_failed")
            await asyncio.sleep(self._interval_s)
