"""Reading and changing the organisation; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import service as audit
from cloud.auth.models import StaffUser
from cloud.organisation.models import POSITION_LABELS, OrgPosition, Position

# Business numbers: digits with hyphens, optionally +81 (no private numbers are kept).
PHONE_PATTERN = r"^(\+81-?|0)[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$"


class UnknownStaffError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Member:
    username: str
    display_name: str
    role: str
    position: Position
    base: str
    phone: str
    chain_order: int | None
    duty: str

    @property
    def position_label(self) -> str:
        return POSITION_LABELS[self.position]

    def as_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "position": self.position.value,
            "position_label": self.position_label,
            "base": self.base,
            "phone": self.phone,
            "chain_order": self.chain_order,
            "duty": self.duty,
        }


@dataclass(frozen=True, slots=True)
class Organisation:
    members: tuple[Member, ...]

    def by_position(self) -> list[tuple[Position, str, list[Member]]]:
        return [
            (position, label, [m for m in self.members if m.position == position])
            for position, label in POSITION_LABELS.items()
        ]

    @property
    def chain(self) -> list[Member]:
        """The emergency contact chain, first called first."""
        return sorted(
            (m for m in self.members if m.chain_order is not None),
            key=lambda m: (m.chain_order or 0, m.display_name),
        )

    @property
    def bases(self) -> list[str]:
        return sorted({m.base for m in self.members})

    def as_json(self) -> dict[str, object]:
        return {
            "members": [m.as_json() for m in self.members],
            "chain": [m.username for m in self.chain],
        }


async def organisation(*, db: AsyncSession) -> Organisation:
    rows = await db.execute(
        select(OrgPosition, StaffUser)
        .join(StaffUser, StaffUser.id == OrgPosition.user_id)
        .where(StaffUser.disabled.is_(False))
    )
    order = list(POSITION_LABELS)
    members = [
        Member(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            position=Position(row.position),
            base=row.base,
            phone=row.phone,
            chain_order=row.chain_order,
            duty=row.duty,
        )
        for row, user in rows
    ]
    members.sort(key=lambda m: (order.index(m.position), m.chain_order or 999, m.display_name))
    return Organisation(tuple(members))


async def set_position(
    *,
    db: AsyncSession,
    username: str,
    position: Position,
    base: str,
    phone: str,
    chain_order: int | None,
    duty: str = "",
    actor: str,
    now: datetime | None = None,
) -> OrgPosition:
    now = now or datetime.now(UTC)
    user = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise UnknownStaffError(f"no staff member {username!r}")
    row = await db.scalar(select(OrgPosition).where(OrgPosition.user_id == user.id))
    if row is None:
        row = OrgPosition(user_id=user.id)
        db.add(row)
    row.position = position.value
    row.base = base
    row.phone = phone
    row.chain_order = chain_order
    row.duty = duty
    row.updated_by = actor
    row.updated_at = now
    await db.flush()
    await audit.record(
        db=db,
        actor=actor,
        action="organisation.set",
        target=f"staff:{username}",
        detail={
            "position": position.value,
            "base": base,
            "phone": phone,
            "chain_order": chain_order,
        },
    )
    return row


async def remove(*, db: AsyncSession, username: str, actor: str) -> bool:
    user = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    row = (
        await db.scalar(select(OrgPosition).where(OrgPosition.user_id == user.id))
        if user is not None
        else None
    )
    if row is None:
        return False
    await db.delete(row)
    await audit.record(db=db, actor=actor, action="organisation.remove", target=f"staff:{username}")
    return True
