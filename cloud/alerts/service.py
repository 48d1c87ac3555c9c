"""Reconciling what is wrong now with the open alerts: open new ones, resolve the gone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alerts.models import Alert
from cloud.alerts.rules import Condition


async def reconcile(
    *, db: AsyncSession, found: list[Condition], now: datetime
) -> tuple[list[Alert], list[Alert]]:
    """Returns (opened, resolved)."""
    open_alerts = {
        (a.kiosk_id, a.kind): a
        for a in await db.scalars(
            select(Alert).where(Alert.resolved_at.is_(None)).with_for_update()
        )
    }
    found_by_key = {(c.kiosk_id, c.kind): c for c in found}
    opened = [
        Alert(
            kiosk_id=c.kiosk_id,
            site_id=c.site_id,
            kind=c.kind,
            severity=c.severity,
            detail=c.detail,
            opened_at=now,
            resolved_at=None,
            notified_open=False,
            notified_resolved=False,
        )
        for key, c in found_by_key.items()
        if key not in open_alerts
    ]
    db.add_all(opened)
    resolved = []
    for key, alert in open_alerts.items():
        if key not in found_by_key:
            alert.resolved_at = now
            resolved.append(alert)
    await db.flush()
    return opened, resolved


async def unnotified(*, db: AsyncSession) -> list[Alert]:
    return list(
        await db.scalars(
            select(Alert)
            .where(
                or_(
                    Alert.notified_open.is_(False),
                    Alert.resolved_at.is_not(None) & Alert.notified_resolved.is_(False),
                )
            )
            .order_by(Alert.id)
        )
    )


async def list_alerts(*, db: AsyncSession, only_open: bool, limit: int = 200) -> list[Alert]:
    query = select(Alert).order_by(Alert.opened_at.desc()).limit(limit)
    if only_open:
        query = query.where(Alert.resolved_at.is_(None))
    return list(await db.scalars(query))
