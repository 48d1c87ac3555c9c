"""`/api/sites/{site_id}/days` (all staff) and `/api/sites/{site_id}/closures` (city
staff and admins record; all staff read)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from cloud.auth.models import Role, StaffUser
from cloud.calendar import service
from cloud.calendar.days import days
from cloud.calendar.models import SiteClosure
from cloud.calendar.schedule import UnknownSiteError, load_site
from cloud.calendar.schemas import ClosureCreate, ClosureRead, DayRead
from cloud.deps import ALL_STAFF, DbSession, Settings, require_roles
from cloud.sites.service import get_site, schedule_of

router = APIRouter(prefix="/api/sites", tags=["calendar"])
Staff = Annotated[StaffUser, Depends(require_roles(*ALL_STAFF))]
ClosureRecorder = Annotated[StaffUser, Depends(require_roles(Role.CITY, Role.ADMIN))]
MAX_DAYS = 3 * 366


def _range(start: date, end: date) -> None:
    if start > end or (end - start).days > MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"'from' must not be after 'to', and at most {MAX_DAYS} days",
        )


@router.get("/{site_id}/days", response_model=list[DayRead])
async def site_days(
    site_id: str,
    _user: Staff,
    db: DbSession,
    settings: Settings,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> list[dict[str, object]]:
    _range(start, end)
    try:
        schedule = load_site(site_id, sites_dir=settings.calendar.sites_dir)
    except UnknownSiteError as exc:
        registered = await get_site(db=db, site_id=site_id)  # a pop-up created from a file
        if registered is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        schedule = schedule_of(registered)
    recorded = await service.closures(db=db, site_id=site_id, start=start, end=end)
    return [day.as_json() for day in days(schedule, start, end, recorded)]


@router.get("/{site_id}/closures", response_model=list[ClosureRead])
async def list_closures(
    site_id: str,
    _user: Staff,
    db: DbSession,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> list[SiteClosure]:
    _range(start, end)
    return await service.closure_rows(db=db, site_id=site_id, start=start, end=end)


@router.post("/{site_id}/closures", response_model=ClosureRead, status_code=status.HTTP_201_CREATED)
async def add_closure(
    site_id: str, body: ClosureCreate, user: ClosureRecorder, db: DbSession, settings: Settings
) -> SiteClosure:
    try:
        return await service.add_closure(
            db=db,
            site_id=site_id,
            day=body.date,
            reason=body.reason,
            recorded_by=user.username,
            from_time=body.from_time,
            until_time=body.until_time,
            sites_dir=settings.calendar.sites_dir,
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except service.ClosureError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
