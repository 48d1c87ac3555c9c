"""The demo's roster: the coming two weeks of city hall, fully staffed but for one
deliberate gap (the second operator leaves at 15:00 on the second opening day), so the
coverage page and the live alert have something to show."""

from __future__ import annotations

import secrets
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.models import Role, StaffUser
from cloud.auth.service import create_user
from cloud.calendar.days import days
from cloud.calendar.schedule import load_site
from cloud.calendar.service import closures
from cloud.shifts import service
from cloud.shifts.models import Shift

DEMO_SITE = "city-hall"
OPERATORS = ("demo-operator", "demo-operator-2")
SUPPORT = "demo-support"
GAP_FROM = time(15, 0)  # the deliberate gap: the second operator's early leave
DAYS = 14


async def _ensure(db: AsyncSession, username: str, role: Role, display_name: str) -> None:
    if await db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
        # A roster entry only: nobody logs in as this user, so the password is thrown away.
        await create_user(
            db=db,
            username=username,
            password=secrets.token_urlsafe(24),
            role=role,
            display_name=display_name,
        )


async def seed_demo(db: AsyncSession, today: date) -> int:
    """Shifts for the opening days from `today` for two weeks; returns how many were added
    (none when the roster already has shifts then: restarting the demo adds nothing)."""
    end = today + timedelta(days=DAYS - 1)
    if await db.scalar(select(Shift.id).where(Shift.date >= today, Shift.date <= end).limit(1)):
        return 0
    await _ensure(db, OPERATORS[0], Role.OPERATOR, "デモ オペレーター")
    await _ensure(db, OPERATORS[1], Role.OPERATOR, "デモ オペレーター2")
    await _ensure(db, SUPPORT, Role.SUPPORT, "デモ 支援員")
    site = load_site(DEMO_SITE)
    recorded = await closures(db=db, site_id=DEMO_SITE, start=today, end=end)
    opening_days = [d for d in days(site, today, end, recorded) if d.opens and d.closes]
    added = 0
    for index, day in enumerate(opening_days):
        assert day.opens is not None and day.closes is not None
        for username in (*OPERATORS, SUPPORT):
            closes = day.closes
            if index == 1 and username == OPERATORS[1]:
                closes = GAP_FROM
            await service.add_shift(
                db=db,
                username=username,
                day=day.date,
                start=day.opens,
                end=closes,
                site_id=DEMO_SITE if username == SUPPORT else None,
                created_by="demo",
                schedule_of=lambda site_id: site if site_id == DEMO_SITE else None,
            )
            added += 1
    return added
