"""`/shifts`: the coming weeks per day, gaps highlighted (admins and city staff)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from cloud.auth.models import Role, StaffUser
from cloud.calendar.schedule import UnknownSiteError
from cloud.deps import DbSession, Settings, require_roles
from cloud.shifts import service
from cloud.shifts.views import schedules, today
from cloud.ui.views import ROLE_LABELS, templates

router = APIRouter(include_in_schema=False)
Viewer = Annotated[StaffUser, Depends(require_roles(Role.ADMIN, Role.CITY))]
WEEKDAY_LABELS = ("月", "火", "水", "木", "金", "土", "日")


@router.get("/shifts", response_class=HTMLResponse)
async def shifts_page(
    request: Request,
    user: Viewer,
    db: DbSession,
    settings: Settings,
    site: str = "city-hall",
    start: Annotated[date | None, Query(alias="from")] = None,
    weeks: Annotated[int, Query(ge=1, le=8)] = 2,
) -> Response:
    start = start or today()
    end = start + timedelta(days=7 * weeks - 1)
    try:
        result = await service.forecast(
            db=db, site_id=site, start=start, end=end, schedule_of=schedules(settings)
        )
    except UnknownSiteError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return templates.TemplateResponse(
        request,
        "shifts.html",
        {
            "user": user,
            "role_label": ROLE_LABELS.get(user.role, user.role),
            "site": site,
            "start": start,
            "end": end,
            "weeks": weeks,
            "forecast": result,
            "zone": result.zone,
            "weekday_labels": WEEKDAY_LABELS,
            "gap_minutes": sum(g.minutes for g in result.gaps),
        },
    )
