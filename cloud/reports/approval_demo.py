"""The demo's month-end: last month's report submitted by the contractor and approved by the
city (so its invoice can be downloaded), and the demo staff placed in the organisation.

Called by the demo after it seeded last month's records; running it again changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.models import StaffUser
from cloud.calendar.schedule import load_site
from cloud.organisation import service as organisation
from cloud.organisation.models import OrgPosition, Position
from cloud.reports import approval
from cloud.settings import BillingSettings

DEMO_SITES = ("city-hall",)
DEMO_ADMIN = "demo-admin"
DEMO_CITY = "demo-city"
# username → (position, base, business phone, place in the contact chain, emergency duty)
DEMO_ORGANISATION: dict[str, tuple[Position, str, str, int | None, str]] = {
    "demo-admin": (
        Position.MANAGER,
        "本社（那覇市）",
        "098-000-0001",
        1,
        "全体の指揮、市の担当課への報告",
    ),
    "demo-operator": (
        Position.OPERATOR,
        "オペレーションセンター",
        "098-000-0002",
        2,
        "通話中の住民への案内、責任者への第一報",
    ),
    "demo-support": (
        Position.SUPPORT,
        "市役所 市民課",
        "098-000-0003",
        3,
        "来庁者への案内、窓口端末の目視確認",
    ),
}


def _previous_month(now: datetime) -> str:
    year, month = now.year, now.month - 1
    if month == 0:
        year, month = year - 1, 12
    return f"{year:04d}-{month:02d}"


async def seed_demo(
    db: AsyncSession,
    *,
    billing: BillingSettings | None = None,
    sites_dir: Path | None = None,
    now: datetime | None = None,
) -> None:
    now = now or datetime.now(UTC)
    billing = billing or BillingSettings()
    month = _previous_month(now.astimezone(load_site(DEMO_SITES[0], sites_dir=sites_dir).zone))
    for site_id in DEMO_SITES:
        row = await approval.find(db=db, site_id=site_id, month=month)
        if row is None:
            await approval.submit(
                db=db,
                site_id=site_id,
                month=month,
                actor=DEMO_ADMIN,
                billing=billing,
                sites_dir=sites_dir,
                now=now,
            )
            row = await approval.find(db=db, site_id=site_id, month=month)
        if row is not None and row.state == approval.State.SUBMITTED:
            await approval.decide(
                db=db,
                site_id=site_id,
                month=month,
                actor=DEMO_CITY,
                approve=True,
                comment="内容を確認しました。",
                invoice_prefix=billing.invoice_prefix,
                now=now,
            )
    for username, (position, base, phone, order, duty) in DEMO_ORGANISATION.items():
        user = await db.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            continue
        if await db.scalar(select(OrgPosition).where(OrgPosition.user_id == user.id)):
            continue
        await organisation.set_position(
            db=db,
            username=username,
            position=position,
            base=base,
            phone=phone,
            chain_order=order,
            duty=duty,
            actor=DEMO_ADMIN,
            now=now,
        )
