"""`/api/shifts`: the roster (admins manage it; city staff read it; operators and support
staff read their own shifts) and `/api/shifts/coverage` (admins and city staff)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from cloud.auth.models import Role, StaffUser
from cloud.calendar.schedule import SiteSchedule, UnknownSiteError, load_site
from cloud.deps import ALL_STAFF, DbSession, RowId, Settings, require_roles
from cloud.settings import CloudSettings
from cloud.shifts import service
from cloud.shifts.coverage import Gap
from cloud.shifts.schemas import ShiftCreate, ShiftRead

router = APIRouter(prefix="/api/shifts", tags=["shifts"])
Staff = Annotated[StaffUser, Depends(require_roles(*ALL_STAFF))]
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Viewer = Annotated[StaffUser, Depends(require_roles(Role.ADMIN, Role.CITY))]
ROSTER_READERS = frozenset({Role.ADMIN.value, Role.CITY.value})
MAX_DAYS = 62
DEFAULT_DAYS = 14


def schedules(settings: CloudSettings) -> service.ScheduleOf:
    def schedule_of(site_id: str) -> SiteSchedule | None:
        try:
            return load_site(site_id, sites_dir=settings.calendar.sites_dir)
        except UnknownSiteError:
            return None

    return schedule_of


def today() -> date:
    return datetime.now(service.ROSTER_ZONE).date()


def date_range(start: date | None, end: date | None) -> tuple[date, date]:
    start = start or today()
    end = end or start + timedelta(days=DEFAULT_DAYS - 1)
    if start > end or (end - start).days >= MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"'from' must not be after 'to', and at most {MAX_DAYS} days",
        )
    return start, end


def gap_json(gap: Gap, zone: ZoneInfo) -> dict[str, object]:
    return {
        "start": gap.start.astimezone(zone).isoformat(),
        "end": gap.end.astimezone(zone).isoformat(),
        "minutes": gap.minutes,
        "missing": gap.missing,
        "on_shift": gap.on_shift,
        "needed": gap.needed,
    }


@router.get("", response_model=list[ShiftRead])
async def list_shifts(
    user: Staff,
    db: DbSession,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> list[dict[str, object]]:
    """The roster for admins and city staff; anyone else sees only their own shifts."""
    start, end = date_range(start, end)
    own = None if user.role in ROSTER_READERS else user.id
    return [e.as_json() for e in await service.roster(db=db, start=start, end=end, user_id=own)]


@router.post("", response_model=ShiftRead, status_code=status.HTTP_201_CREATED)
async def add_shift(
    body: ShiftCreate, user: Admin, db: DbSession, settings: Settings
) -> dict[str, object]:
    try:
        entry = await service.add_shift(
            db=db,
            username=body.username,
            day=body.date,
            start=body.start,
            end=body.end,
            site_id=body.site_id,
            created_by=user.username,
            schedule_of=schedules(settings),
        )
    except service.ShiftConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except service.ShiftError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return entry.as_json()


@router.get("/coverage")
async def coverage(
    _user: Viewer,
    db: DbSession,
    settings: Settings,
    site: str = "city-hall",
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, object]:
    """Per opening minute from `from` to `to`: gaps as intervals with what is missing."""
    start, end = date_range(start, end)
    try:
        result = await service.forecast(
            db=db, site_id=site, start=start, end=end, schedule_of=schedules(settings)
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return {
        "site": result.site_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "windows": result.windows,
        "rule": (
            "operators on shift >= windows of all open sites; one support staff member "
            "on shift at the site outside the support break"
        ),
        "covered": not result.gaps,
        "gap_minutes": sum(g.minutes for g in result.gaps),
        "gaps": [gap_json(g, result.zone) for g in result.gaps],
        "days": [
            {
                **day.schedule.as_json(),
                "covered": day.covered,
                "operators": [e.as_json() for e in day.operators],
                "support": [e.as_json() for e in day.support],
                "gaps": [gap_json(g, result.zone) for g in day.gaps],
            }
            for day in result.days
        ],
    }


@router.delete("/{shift_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_shift(shift_id: RowId, user: Admin, db: DbSession) -> Response:
    if not await service.remove_shift(db=db, shift_id=shift_id, removed_by=user.username):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shift {shift_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
