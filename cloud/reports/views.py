"""`/api/reports/uptime`: city staff, techs and admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from cloud.auth.models import Role
from cloud.calendar.schedule import UnknownSiteError
from cloud.deps import DbSession, Settings, require_roles
from cloud.reports.month import MONTH_PATTERN
from cloud.reports.monthly import MonthlyReport, monthly_report
from cloud.reports.pdf import pdf_bytes
from cloud.reports.service import as_json, uptime_report
from cloud.reports.xlsx import xlsx_bytes
from protocol.v1.ids import ID_PATTERN

router = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    dependencies=[Depends(require_roles(Role.CITY, Role.TECH, Role.ADMIN))],
)
MAX_DAYS = 366


@router.get("/uptime")
async def uptime(
    db: DbSession,
    settings: Settings,
    site: str,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> dict[str, object]:
    if start > end or (end - start).days > MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"'from' must not be after 'to', and at most {MAX_DAYS} days",
        )
    try:
        report = await uptime_report(
            db=db, site_id=site, start=start, end=end, sites_dir=settings.calendar.sites_dir
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return as_json(report)


monthly_router = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    dependencies=[Depends(require_roles(Role.CITY, Role.ADMIN))],
)
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


async def _monthly(db: DbSession, settings: Settings, site: str, month: str) -> MonthlyReport:
    try:
        return await monthly_report(
            db=db,
            site_id=site,
            month=month,
            billing=settings.billing,
            sites_dir=settings.calendar.sites_dir,
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@monthly_router.get("/monthly")
async def monthly(
    db: DbSession,
    settings: Settings,
    site: Annotated[str, Query(pattern=ID_PATTERN)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
    format: Annotated[Literal["xlsx", "pdf"], Query()] = "xlsx",
) -> Response:
    """The monthly performance report (業務実績報告) as .xlsx or PDF."""
    report = await _monthly(db, settings, site, month)
    content = xlsx_bytes(report) if format == "xlsx" else pdf_bytes(report)
    name = f"gyomu-jisseki-{site}-{month}.{format}"
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@monthly_router.get("/billing")
async def billing(
    db: DbSession,
    settings: Settings,
    site: Annotated[str, Query(pattern=ID_PATTERN)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> dict[str, object]:
    """The month's bill with its day-by-day basis."""
    return (await _monthly(db, settings, site, month)).bill.as_json()
