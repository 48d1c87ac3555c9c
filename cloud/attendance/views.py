"""`/api/attendance`: support staff record the days they worked at a site."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.attendance.models import SupportAttendance
from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, require_roles
from cloud.reports.month import MONTH_PATTERN, month_range
from protocol.v1.ids import ID_PATTERN

router = APIRouter(prefix="/api/attendance", tags=["attendance"])
SITE = ID_PATTERN


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(pattern=SITE)
    day: date
    username: str | None = Field(None, max_length=64, description="Admins only: whose day")


class AttendanceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    day: date
    staff_id: int


@router.post("", response_model=AttendanceView, status_code=status.HTTP_201_CREATED)
async def record(
    body: AttendanceIn,
    db: DbSession,
    user: Annotated[StaffUser, Depends(require_roles(Role.SUPPORT, Role.ADMIN))],
) -> Any:
    staff = user
    if body.username and body.username != user.username:
        if user.role != Role.ADMIN:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "support staff record their own days")
        found = await db.scalar(select(StaffUser).where(StaffUser.username == body.username))
        if found is None or found.role != Role.SUPPORT:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such support staff member")
        staff = found
    if body.day > datetime.now(UTC).date():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a day in the future")
    row = SupportAttendance(
        site_id=body.site_id,
        day=body.day,
        staff_id=staff.id,
        recorded_by=user.username,
        recorded_at=datetime.now(UTC),
    )
    try:
        async with db.begin_nested():
            db.add(row)
            await db.flush()
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, "that day is already recorded") from None
    await audit.record(
        db=db,
        actor=user.username,
        action="attendance.add",
        target=body.site_id,
        detail={"day": body.day.isoformat(), "staff": staff.username},
    )
    return row


@router.get("", response_model=list[AttendanceView])
async def listed(
    db: DbSession,
    user: Annotated[StaffUser, Depends(require_roles(Role.SUPPORT, Role.CITY, Role.ADMIN))],
    site: Annotated[str, Query(pattern=SITE)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> Any:
    first, last = month_range(month)
    return list(
        await db.scalars(
            select(SupportAttendance)
            .where(
                SupportAttendance.site_id == site,
                SupportAttendance.day >= first,
                SupportAttendance.day <= last,
            )
            .order_by(SupportAttendance.day, SupportAttendance.staff_id)
        )
    )
