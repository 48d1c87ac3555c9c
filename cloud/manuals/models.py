"""The operator manual: versions of per-procedure scripts and a FAQ, approved by the city.

A version's life: draft (the contractor's admin edits it) → submitted (frozen) → approved
(by the `city` role) or returned with comments (a new draft carries the corrections). The
version in force is the approved version with the highest number: exactly one at any time
once the first is approved. Versions are never deleted, so they are the revision history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class ManualState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


STATE_LABELS: dict[str, str] = {
    ManualState.DRAFT: "下書き",
    ManualState.SUBMITTED: "承認待ち",
    ManualState.RETURNED: "差戻し",
    ManualState.APPROVED: "承認済み",
}


class ManualVersion(Base):
    __tablename__ = "manual_version"

    # The version number people say ("第3版"); assigned in order, never reused.
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16), index=True)
    based_on: Mapped[int | None] = mapped_column(Integer)
    change_note: Mapped[str] = mapped_column(String(500), default="")
    # {procedure code: [{"title": ..., "body": ...}, ...]} (procedure codes of cloud.routing)
    scripts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"question": ..., "answer": ..., "tags": [...]}, ...]
    faq: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_comment: Mapped[str | None] = mapped_column(Text)
