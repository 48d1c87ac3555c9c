"""`/api/inspections` (techs) and `/api/incidents` (anyone on staff)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select

from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.deps import ALL_STAFF, DbSession, require_roles
from cloud.inspections.models import Incident, Inspection
from cloud.reports.month import MONTH_PATTERN, month_range
from protocol.v1.ids import ID_PATTERN

router = APIRouter(tags=["inspections"])
JAPAN = ZoneInfo("Asia/Tokyo")
SITE = ID_PATTERN
ItemName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Readers = Annotated[
    StaffUser, Depends(require_roles(Role.TECH, Role.CITY, Role.SUPPORT, Role.ADMIN))
]


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(pattern=SITE)
    kiosk_id: str = Field(pattern=SITE)
    inspected_on: date
    checklist: dict[ItemName, Literal["ok", "ng"]] = Field(min_length=1, max_length=30)
    notes: str = Field("", max_length=500, description="No photos, no personal data")


class InspectionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    kiosk_id: str
    inspected_on: date
    checklist: dict[str, str]
    result: str
    notes: str


@router.post("/api/inspections", response_model=InspectionView, status_code=status.HTTP_201_CREATED)
async def record_inspection(
    body: InspectionIn,
    db: DbSession,
    user: Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))],
) -> Any:
    row = Inspection(
        site_id=body.site_id,
        kiosk_id=body.kiosk_id,
        inspected_on=body.inspected_on,
        checklist=dict(body.checklist),
        result="ng" if "ng" in body.checklist.values() else "ok",
        notes=body.notes,
        recorded_by=user.username,
        recorded_at=datetime.now(UTC),
    )
    db.add(row)
    await db.flush()
    await audit.record(
        db=db,
        actor=user.username,
        action="inspection.add",
        target=body.kiosk_id,
        detail={"on": body.inspected_on.isoformat(), "result": row.result},
    )
    return row


@router.get("/api/inspections", response_model=list[InspectionView])
async def list_inspections(
    db: DbSession,
    user: Readers,
    site: Annotated[str, Query(pattern=SITE)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> Any:
    first, last = month_range(month)
    return list(
        await db.scalars(
            select(Inspection)
            .where(
                Inspection.site_id == site,
                Inspection.inspected_on >= first,
                Inspection.inspected_on <= last,
            )
            .order_by(Inspection.inspected_on, Inspection.id)
        )
    )


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(pattern=SITE)
    kiosk_id: str | None = Field(None, pattern=SITE)
    occurred_at: AwareDatetime
    kind: Literal["incident", "complaint"]
    severity: Literal["minor", "serious"]
    summary: str = Field(min_length=1, max_length=500, description="No personal data")
    prevention_plan: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _serious_needs_a_plan(self) -> IncidentIn:
        if self.severity == "serious" and not (self.prevention_plan or "").strip():
            raise ValueError("a serious incident needs a written prevention plan")
        return self


class IncidentView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    kiosk_id: str | None
    occurred_at: datetime
    kind: str
    severity: str
    summary: str
    prevention_plan: str | None


@router.post("/api/incidents", response_model=IncidentView, status_code=status.HTTP_201_CREATED)
async def record_incident(
    body: IncidentIn,
    db: DbSession,
    user: Annotated[StaffUser, Depends(require_roles(*ALL_STAFF))],
) -> Any:
    row = Incident(**body.model_dump(), recorded_by=user.username, recorded_at=datetime.now(UTC))
    db.add(row)
    await db.flush()
    await audit.record(
        db=db,
        actor=user.username,
        action="incident.add",
        target=body.site_id,
        detail={"kind": body.kind, "severity": body.severity},
    )
    return row


@router.get("/api/incidents", response_model=list[IncidentView])
async def list_incidents(
    db: DbSession,
    user: Readers,
    site: Annotated[str, Query(pattern=SITE)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> Any:
    first, last = month_range(month)
    start = datetime.combine(first, time.min, JAPAN)  # the month in Japan's time
    end = datetime.combine(last + timedelta(days=1), time.min, JAPAN)
    return list(
        await db.scalars(
            select(Incident)
            .where(
                Incident.site_id == site,
                Incident.occurred_at >= start,
                Incident.occurred_at < end,
            )
            .order_by(Incident.occurred_at)
        )
    )
