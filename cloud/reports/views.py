"""`/api/reports/uptime`: city staff, techs and admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from cloud.auth.models import Role
from cloud.calendar.schedule import UnknownSiteError
from cloud.deps import DbSession, Settings, require_roles
from cloud.reports.service import as_json, uptime_report

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
