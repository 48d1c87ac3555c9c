"""`/api/organisation` (admin manages; all staff read) and the printable page `/organisation`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from cloud.auth.models import Role, StaffUser
from cloud.deps import ALL_STAFF, DbSession, require_roles
from cloud.organisation import service
from cloud.organisation.models import Position
from cloud.organisation.pdf import EMERGENCY_STEPS, TITLE, organisation_pdf
from cloud.ui.views import _page_user, _page_user_context, templates

router = APIRouter(prefix="/api/organisation", tags=["organisation"])
pages = APIRouter(include_in_schema=False)
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Staff = Annotated[StaffUser, Depends(require_roles(*ALL_STAFF))]


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    position: Position
    base: str = Field(min_length=1, max_length=100, description="e.g. 沖縄保守拠点")
    phone: str = Field(
        pattern=service.PHONE_PATTERN, max_length=24, description="A business number only"
    )
    chain_order: int | None = Field(
        None, ge=1, le=99, description="Place in the emergency contact chain (1 first)"
    )
    duty: str = Field("", max_length=200, description="Their part in an emergency")


@router.get("")
async def listed(db: DbSession, user: Staff) -> dict[str, object]:
    """The organisation and the emergency contact chain (usernames, first called first)."""
    return (await service.organisation(db=db)).as_json()


@router.put("/positions")
async def set_position(body: PositionIn, db: DbSession, user: Admin) -> dict[str, Any]:
    """Place a staff member in the organisation (or change their place)."""
    try:
        await service.set_position(
            db=db,
            username=body.username,
            position=body.position,
            base=body.base,
            phone=body.phone,
            chain_order=body.chain_order,
            duty=body.duty,
            actor=user.username,
        )
    except service.UnknownStaffError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return (await service.organisation(db=db)).as_json()


@router.delete("/positions", status_code=status.HTTP_204_NO_CONTENT)
async def remove_position(
    db: DbSession, user: Admin, username: Annotated[str, Query(max_length=64)]
) -> Response:
    if not await service.remove(db=db, username=username, actor=user.username):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not in the organisation")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/pdf")
async def pdf(db: DbSession, user: Staff) -> Response:
    """The staffing chart and emergency plan as a printable PDF."""
    content = organisation_pdf(await service.organisation(db=db), datetime.now(UTC))
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="taisei-renrakumo.pdf"'},
    )


@pages.get("/organisation", response_class=HTMLResponse)
async def organisation_page(request: Request, db: DbSession) -> Response:
    user = await _page_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    org = await service.organisation(db=db)
    return templates.TemplateResponse(
        request,
        "organisation.html",
        {
            **_page_user_context(user),
            "title": TITLE,
            "manager": org.by_position()[0],
            "teams": org.by_position()[1:],
            "members": org.members,
            "chain": org.chain,
            "steps": EMERGENCY_STEPS,
        },
    )
