"""The month-end workflow of one site's monthly report: the contractor (`admin`) submits it,
city staff (`city`) approve it or return it with comments; a returned month is corrected and
submitted again. Only an approved month has an invoice.

Each submission stores a snapshot of the month's figures (totals and the billing basis), so
records edited after it show as differences, and the invoice carries the approved figures.
Every step is written to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cloud.audit import service as audit
from cloud.calendar.schedule import load_site
from cloud.db.base import Base
from cloud.db.types import UTCDateTime
from cloud.reports.month import month_range
from cloud.reports.monthly import MonthlyReport, monthly_report
from cloud.settings import BillingSettings

ZONE = ZoneInfo("Asia/Tokyo")  # the times shown to city staff


class State(StrEnum):
    DRAFT = "draft"  # nothing submitted yet (no row)
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


STATE_LABELS = {
    State.DRAFT: "未提出",
    State.SUBMITTED: "提出済み（市の確認待ち）",
    State.RETURNED: "差戻し",
    State.APPROVED: "承認済み",
}
ACTION_LABELS = {"submit": "提出", "return": "差戻し", "approve": "承認"}


class ReportApproval(Base):
    """One site's month: where it stands, and the figures last submitted."""

    __tablename__ = "report_approval"
    __table_args__ = (UniqueConstraint("site_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63))
    month: Mapped[str] = mapped_column(String(7))
    state: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)  # submissions so far
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)  # the city's last comment
    invoice_number: Mapped[str | None] = mapped_column(String(40), unique=True)


class ReportApprovalEvent(Base):
    """The history: each submission, return and approval, with its comment."""

    __tablename__ = "report_approval_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    approval_id: Mapped[int] = mapped_column(
        ForeignKey("report_approval.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)


class ApprovalError(Exception):
    """The step does not fit the month's state (HTTP 409)."""


# The figures compared between the snapshot and the records now, with their labels.
FIGURE_LABELS = {
    "opening_days": "開設日数",
    "online_total": "オンライン窓口 対応人数",
    "support_total": "支援員 対応人数",
    "uptime_percent": "窓口稼働率（%）",
    "staffing_gap_minutes": "オペレーター不在時間（分）",
    "weeks_missed": "点検未実施週",
    "incidents": "事故・苦情（件）",
    "bill.support_days": "支援員 計上日数",
    "bill.support_fee_yen": "支援員 費用（円）",
    "bill.subtotal_yen": "小計（円）",
    "bill.tax_yen": "消費税（円）",
    "bill.total_yen": "請求額 税込（円）",
    "bill.counted_days": "支援員 計上日",
}


def snapshot(report: MonthlyReport) -> dict[str, Any]:
    """What is submitted: the totals and the billing basis (the days counted, and why)."""
    b = report.bill
    ratio = report.uptime.ratio
    return {
        "site_id": report.site_id,
        "site_name": report.site_name,
        "month": report.month,
        "opening_days": report.opening_days,
        "online_total": report.online_total,
        "support_total": report.support_total,
        "uptime_percent": None if ratio is None else round(100 * ratio, 1),
        "staffing_gap_minutes": round(report.staffing_gap_minutes),
        "weeks_missed": len(report.weeks_missed),
        "incidents": len(report.incidents),
        "bill": {
            "fixed_fee_yen": b.fixed_fee_yen,
            "daily_rate_yen": b.daily_rate_yen,
            "support_days": b.support_days,
            "support_fee_yen": b.support_fee_yen,
            "subtotal_yen": b.subtotal_yen,
            "tax_percent": b.tax_percent,
            "tax_yen": b.tax_yen,
            "total_yen": b.total_yen,
            "counted_days": [d.date.isoformat() for d in b.days if d.counted],
            "basis": {d.date.isoformat(): d.basis for d in b.days if d.attended},
        },
    }


def _figure(figures: dict[str, Any], key: str) -> Any:
    value: Any = figures
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def differences(submitted: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures that changed since the snapshot (records edited after the submission)."""
    return [
        {
            "figure": key,
            "label": label,
            "submitted": _figure(submitted, key),
            "current": _figure(current, key),
        }
        for key, label in FIGURE_LABELS.items()
        if _figure(submitted, key) != _figure(current, key)
    ]


async def find(*, db: AsyncSession, site_id: str, month: str) -> ReportApproval | None:
    row: ReportApproval | None = await db.scalar(
        select(ReportApproval).where(
            ReportApproval.site_id == site_id, ReportApproval.month == month
        )
    )
    return row


async def history(*, db: AsyncSession, approval: ReportApproval) -> list[ReportApprovalEvent]:
    return list(
        await db.scalars(
            select(ReportApprovalEvent)
            .where(ReportApprovalEvent.approval_id == approval.id)
            .order_by(ReportApprovalEvent.id)
        )
    )


def _target(site_id: str, month: str) -> str:
    return f"report:{site_id}/{month}"


def _month_ended(site_id: str, month: str, now: datetime, sites_dir: Path | None) -> bool:
    _, last = month_range(month)
    today: date = now.astimezone(load_site(site_id, sites_dir=sites_dir).zone).date()
    return last < today


async def submit(
    *,
    db: AsyncSession,
    site_id: str,
    month: str,
    actor: str,
    billing: BillingSettings,
    sites_dir: Path | None = None,
    now: datetime | None = None,
) -> ReportApproval:
    """The contractor submits the month (first time, or again after a return)."""
    now = now or datetime.now(UTC)
    report = await monthly_report(
        db=db, site_id=site_id, month=month, billing=billing, sites_dir=sites_dir, now=now
    )
    if not _month_ended(site_id, month, now, sites_dir):
        raise ApprovalError("the month has not ended yet: submit it from the 1st of the next")
    figures = snapshot(report)
    row = await find(db=db, site_id=site_id, month=month)
    if row is None:
        row = ReportApproval(
            site_id=site_id,
            month=month,
            state=State.SUBMITTED,
            revision=1,
            snapshot=figures,
            submitted_by=actor,
            submitted_at=now,
        )
        db.add(row)
    elif row.state == State.RETURNED:
        row.state = State.SUBMITTED
        row.revision += 1
        row.snapshot = figures
        row.submitted_by = actor
        row.submitted_at = now
        row.decided_by = row.decided_at = None
    else:
        raise ApprovalError(f"the month is {row.state}: only a returned month is submitted again")
    await db.flush()
    db.add(
        ReportApprovalEvent(
            approval_id=row.id, action="submit", revision=row.revision, actor=actor, at=now
        )
    )
    await audit.record(
        db=db,
        actor=actor,
        action="report.submit",
        target=_target(site_id, month),
        detail={
            "revision": row.revision,
            "total_yen": figures["bill"]["total_yen"],
            "support_days": figures["bill"]["support_days"],
        },
    )
    return row


async def decide(
    *,
    db: AsyncSession,
    site_id: str,
    month: str,
    actor: str,
    approve: bool,
    comment: str | None,
    invoice_prefix: str = "MDG",
    now: datetime | None = None,
) -> ReportApproval:
    """City staff approve the submitted month, or return it with comments."""
    now = now or datetime.now(UTC)
    comment = (comment or "").strip() or None
    if not approve and comment is None:
        raise ValueError("a returned report needs a comment saying what to correct")
    row = await find(db=db, site_id=site_id, month=month)
    if row is None or row.state != State.SUBMITTED:
        state = State.DRAFT if row is None else row.state
        raise ApprovalError(f"the month is {state}: only a submitted month is approved or returned")
    row.state = State.APPROVED if approve else State.RETURNED
    row.decided_by = actor
    row.decided_at = now
    row.comment = comment
    action = "approve" if approve else "return"
    if approve:
        row.invoice_number = f"{invoice_prefix}-{month.replace('-', '')}-{row.id:04d}"
    db.add(
        ReportApprovalEvent(
            approval_id=row.id,
            action=action,
            revision=row.revision,
            actor=actor,
            at=now,
            comment=comment,
        )
    )
    detail: dict[str, Any] = {"revision": row.revision, "comment": comment}
    if approve:
        detail |= {
            "invoice_number": row.invoice_number,
            "total_yen": row.snapshot["bill"]["total_yen"],
        }
    await audit.record(
        db=db, actor=actor, action=f"report.{action}", target=_target(site_id, month), detail=detail
    )
    await db.flush()
    return row


@dataclass(frozen=True, slots=True)
class Status:
    site_id: str
    month: str
    approval: ReportApproval | None
    events: list[ReportApprovalEvent]
    changed: list[dict[str, Any]]

    @property
    def state(self) -> State:
        return State(self.approval.state) if self.approval else State.DRAFT

    def as_json(self) -> dict[str, Any]:
        a = self.approval
        return {
            "site_id": self.site_id,
            "month": self.month,
            "state": self.state.value,
            "state_label": STATE_LABELS[self.state],
            "revision": a.revision if a else 0,
            "submitted_by": a.submitted_by if a else None,
            "submitted_at": a.submitted_at.isoformat() if a else None,
            "decided_by": a.decided_by if a else None,
            "decided_at": a.decided_at.isoformat() if a and a.decided_at else None,
            "comment": a.comment if a else None,
            "invoice_number": a.invoice_number if a else None,
            "snapshot": a.snapshot if a else None,
            "changed_since_submission": self.changed,
            "history": [
                {
                    "action": e.action,
                    "action_label": ACTION_LABELS.get(e.action, e.action),
                    "revision": e.revision,
                    "actor": e.actor,
                    "at": e.at.isoformat(),
                    "at_local": f"{e.at.astimezone(ZONE):%Y-%m-%d %H:%M}",
                    "comment": e.comment,
                }
                for e in self.events
            ],
        }


async def status(
    *,
    db: AsyncSession,
    site_id: str,
    month: str,
    billing: BillingSettings,
    sites_dir: Path | None = None,
    report: MonthlyReport | None = None,
) -> Status:
    """Where the month stands, its history, and what changed in the records since it was
    submitted (against `report` when the caller has the month's report already)."""
    row = await find(db=db, site_id=site_id, month=month)
    if row is None:
        load_site(site_id, sites_dir=sites_dir)  # an unknown site is an error, not a draft
        return Status(site_id, month, None, [], [])
    report = report or await monthly_report(
        db=db, site_id=site_id, month=month, billing=billing, sites_dir=sites_dir
    )
    return Status(
        site_id,
        month,
        row,
        await history(db=db, approval=row),
        differences(row.snapshot, snapshot(report)),
    )
