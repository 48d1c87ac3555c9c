"""Each staff member's place in the service's organisation and the emergency contact chain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class Position(StrEnum):
    MANAGER = "manager"
    OPERATOR = "operator"
    SUPPORT = "support"
    TECHNICIAN = "technician"
    MAINTENANCE_BASE = "maintenance_base"


# In the chart's order, top down.
POSITION_LABELS = {
    Position.MANAGER: "責任者",
    Position.OPERATOR: "オペレーター",
    Position.SUPPORT: "支援員",
    Position.TECHNICIAN: "技術員",
    Position.MAINTENANCE_BASE: "保守拠点",
}


class OrgPosition(Base):
    """A staff member's position, base and business phone; `chain_order` places them in the
    emergency contact chain (1 is called first; None: not in the chain)."""

    __tablename__ = "org_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), unique=True
    )
    position: Mapped[str] = mapped_column(String(24))
    base: Mapped[str] = mapped_column(String(100))  # where they work, e.g. 沖縄保守拠点
    phone: Mapped[str] = mapped_column(String(24))  # a business number, never a private one
    chain_order: Mapped[int | None] = mapped_column(Integer)
    duty: Mapped[str] = mapped_column(String(200))  # their part in an emergency
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
