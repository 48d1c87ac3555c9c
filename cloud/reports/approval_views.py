"""`/api/reports/approvals` and `/api/reports/invoice`: the month-end workflow.

The contractor (`admin`) submits; city staff (`city`) approve or return with comments; both
read the state and download the invoice of an approved month (409 before).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.calendar.schedule import UnknownSiteError
from cloud.deps import DbSession, Settings, require_roles
from cloud.reports import approval
from cloud.reports.invoice import invoice_pdf
from cloud.reports.month import MONTH_PATTERN
from protocol.v1.ids import ID_PATTERN

router = APIRouter(prefix="/api/reports", tags=["reports"])
Readers = Annotated[StaffUser, Depends(require_roles(Role.CITY, Role.ADMIN))]
Contractor = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
City = Annotated[StaffUser, Depends(require_roles(Role.CITY))]
Site = Annotated[str, Query(pattern=ID_PATTERN)]
Month = Annotated[str, Query(pattern=MONTH_PATTERN)]


class MonthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=ID_PATTERN)
    month: str = Field(pattern=MONTH_PATTERN)


class DecisionIn(MonthIn):
    comment: str | None = Field(None, max_length=2000)


class ReturnIn(MonthIn):
    comment: str = Field(min_length=1, max_length=2000, description="What to correct")


async def _status(db: DbSession, settings: Settings, site: str, month: str) -> dict[str, Any]:
    try:
        found = await approval.status(
            db=db,
            site_id=site,
            month=month,
            billing=settings.billing,
            sites_dir=settings.calendar.sites_dir,
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return found.as_json()


@router.get("/approvals")
async def approval_status(
    db: DbSession, settings: Settings, user: Readers, site: Site, month: Month
) -> dict[str, Any]:
    """The month's state, its history with the city's comments, the submitted figures and
    what changed in the records since."""
    return await _status(db, settings, site, month)


@router.post("/approvals/submit")
async def submit(
    body: MonthIn, db: DbSession, settings: Settings, user: Contractor
) -> dict[str, Any]:
    """Submit the month's report (again, after a return): its figures are kept as submitted."""
    try:
        await approval.submit(
            db=db,
            site_id=body.site,
            month=body.month,
            actor=user.username,
            billing=settings.billing,
            sites_dir=settings.calendar.sites_dir,
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except approval.ApprovalError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return await _committed(db, settings, body.site, body.month)


async def _committed(db: DbSession, settings: Settings, site: str, month: str) -> dict[str, Any]:
    """The new state, committed before the response leaves: the page reloads at once, and
    the request's own commit runs only after the response is sent."""
    result = await _status(db, settings, site, month)
    await db.commit()
    return result


async def _decide(
    db: DbSession,
    settings: Settings,
    user: StaffUser,
    body: MonthIn,
    approve: bool,
    comment: str | None,
) -> dict[str, Any]:
    try:
        await approval.decide(
            db=db,
            site_id=body.site,
            month=body.month,
            actor=user.username,
            approve=approve,
            comment=comment,
            invoice_prefix=settings.billing.invoice_prefix,
        )
    except approval.ApprovalError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return await _committed(db, settings, body.site, body.month)


@router.post("/approvals/approve")
async def approve(
    body: DecisionIn, db: DbSession, settings: Settings, user: City
) -> dict[str, Any]:
    """Approve the submitted month: its invoice can then be issued."""
    return await _decide(db, settings, user, body, True, body.comment)


@router.post("/approvals/return")
async def return_(body: ReturnIn, db: DbSession, settings: Settings, user: City) -> dict[str, Any]:
    """Return the submitted month to the contractor with comments."""
    return await _decide(db, settings, user, body, False, body.comment)


@router.get("/invoice")
async def invoice(
    db: DbSession, settings: Settings, user: Readers, site: Site, month: Month
) -> Response:
    """The invoice (請求書) of an approved month as PDF; 409 while the month is not approved."""
    row = await approval.find(db=db, site_id=site, month=month)
    if row is None or row.state != approval.State.APPROVED:
        state = approval.STATE_LABELS[approval.State(row.state) if row else approval.State.DRAFT]
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the month is not approved ({state}): no invoice yet"
        )
    content = invoice_pdf(row, settings.billing, sites_dir=settings.calendar.sites_dir)
    await audit.record(
        db=db,
        actor=user.username,
        action="report.invoice",
        target=f"report:{site}/{month}",
        detail={
            "invoice_number": row.invoice_number,
            "total_yen": row.snapshot["bill"]["total_yen"],
        },
    )
    name = f"seikyusho-{site}-{month}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
