"""`/api/manuals` (the manual's versions and their approval) and the `/manuals` page.

The contractor's admin drafts and submits; the `city` role approves or returns with
comments; operators and support staff read only the version in force.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import IntegrityError

from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, RowId, require_roles
from cloud.manuals import service
from cloud.manuals.models import STATE_LABELS, ManualVersion
from cloud.routing.models import PROCEDURE_LABELS, Procedure
from cloud.ui.views import _page_user, _page_user_context, templates

router = APIRouter(prefix="/api/manuals", tags=["manuals"])
page_router = APIRouter(include_in_schema=False)
JAPAN = ZoneInfo("Asia/Tokyo")

Author = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Reviewer = Annotated[StaffUser, Depends(require_roles(Role.CITY))]
Overseer = Annotated[StaffUser, Depends(require_roles(Role.ADMIN, Role.CITY))]
Reader = Annotated[
    StaffUser, Depends(require_roles(Role.OPERATOR, Role.SUPPORT, Role.ADMIN, Role.CITY))
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000, description="What to say and do")


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=4000)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    based_on: int | None = Field(None, ge=1, description="Copy this version (default: newest)")
    change_note: str = Field("", max_length=500)


class DraftEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change_note: str = Field("", max_length=500)
    scripts: dict[Procedure, Annotated[list[Step], Field(max_length=40)]]
    faq: list[FaqEntry] = Field(max_length=300)


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=4000)


class VersionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    state: str
    based_on: int | None
    change_note: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str | None
    in_force: bool = False


class VersionView(VersionSummary):
    scripts: dict[str, list[Step]]
    faq: list[FaqEntry]


class ProcedureScript(BaseModel):
    procedure: str
    label: str
    steps: list[Step]


class InForceView(BaseModel):
    number: int
    approved_at: datetime | None
    scripts: list[ProcedureScript]
    faq: list[FaqEntry]


class FaqHitView(FaqEntry):
    score: int


class FaqResults(BaseModel):
    number: int
    query: str
    hits: list[FaqHitView]


def _summary(version: ManualVersion, in_force: int | None) -> dict[str, Any]:
    view = VersionSummary.model_validate(version).model_dump()
    view["in_force"] = version.number == in_force
    return view


def _refused(exc: service.ManualError) -> HTTPException:
    code = (
        status.HTTP_404_NOT_FOUND
        if isinstance(exc, service.ManualNotFoundError)
        else status.HTTP_409_CONFLICT
    )
    return HTTPException(code, str(exc))


async def _in_force_or_404(db: DbSession) -> ManualVersion:
    version = await service.in_force(db=db)
    if version is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no manual version has been approved yet")
    return version


@router.get("", response_model=list[VersionSummary])
async def list_versions(db: DbSession, user: Overseer) -> Any:
    in_force = await service.in_force_number(db=db)
    return [_summary(v, in_force) for v in await service.versions(db=db)]


@router.post("", response_model=VersionView, status_code=status.HTTP_201_CREATED)
async def create_draft(body: DraftIn, db: DbSession, user: Author) -> Any:
    try:
        version = await service.create_draft(
            db=db,
            actor=user.username,
            based_on=body.based_on,
            change_note=body.change_note,
            now=datetime.now(UTC),
        )
    except service.ManualError as exc:
        raise _refused(exc) from None
    except IntegrityError:  # two drafts created at once: the other one won
        raise HTTPException(status.HTTP_409_CONFLICT, "another draft was just created") from None
    return {**_summary(version, None), "scripts": version.scripts, "faq": version.faq}


# Declared before `/{version}`, which would otherwise take "current" for a number.
@router.get("/current", response_model=InForceView)
async def current(db: DbSession, user: Reader) -> Any:
    version = await _in_force_or_404(db)
    return {
        "number": version.number,
        "approved_at": version.reviewed_at,
        "scripts": [
            {"procedure": code, "label": label, "steps": version.scripts.get(code, [])}
            for code, label in PROCEDURE_LABELS.items()
        ],
        "faq": version.faq,
    }


@router.get("/current/faq", response_model=FaqResults)
async def search_current_faq(
    db: DbSession, user: Reader, q: Annotated[str, Query(max_length=200)] = ""
) -> Any:
    version = await _in_force_or_404(db)
    hits = service.search_faq(version.faq, q)
    return {
        "number": version.number,
        "query": q,
        "hits": [
            {"question": h.question, "answer": h.answer, "tags": h.tags, "score": h.score}
            for h in hits
        ],
    }


@router.get("/{version}", response_model=VersionView)
async def get_version(version: RowId, db: DbSession, user: Overseer) -> Any:
    try:
        row = await service.get(db=db, number=version)
    except service.ManualError as exc:
        raise _refused(exc) from None
    in_force = await service.in_force_number(db=db)
    return {**_summary(row, in_force), "scripts": row.scripts, "faq": row.faq}


@router.put("/{version}", response_model=VersionView)
async def edit_draft(version: RowId, body: DraftEdit, db: DbSession, user: Author) -> Any:
    try:
        row = await service.edit_draft(
            db=db,
            actor=user.username,
            number=version,
            change_note=body.change_note,
            scripts={
                code.value: [step.model_dump() for step in steps]
                for code, steps in body.scripts.items()
            },
            faq=[entry.model_dump() for entry in body.faq],
            now=datetime.now(UTC),
        )
    except service.ManualError as exc:
        raise _refused(exc) from None
    return {**_summary(row, None), "scripts": row.scripts, "faq": row.faq}


@router.post("/{version}/submit", response_model=VersionSummary)
async def submit(version: RowId, db: DbSession, user: Author) -> Any:
    try:
        row = await service.submit(db=db, actor=user.username, number=version, now=_now())
    except service.ManualError as exc:
        raise _refused(exc) from None
    return _summary(row, await service.in_force_number(db=db))


@router.post("/{version}/approve", response_model=VersionSummary)
async def approve(version: RowId, db: DbSession, user: Reviewer) -> Any:
    try:
        row = await service.approve(db=db, actor=user.username, number=version, now=_now())
    except service.ManualError as exc:
        raise _refused(exc) from None
    return _summary(row, await service.in_force_number(db=db))


@router.post("/{version}/return", response_model=VersionSummary)
async def return_with_comment(version: RowId, body: ReturnIn, db: DbSession, user: Reviewer) -> Any:
    try:
        row = await service.return_with_comment(
            db=db, actor=user.username, number=version, comment=body.comment, now=_now()
        )
    except service.ManualError as exc:
        raise _refused(exc) from None
    return _summary(row, await service.in_force_number(db=db))


def _now() -> datetime:
    return datetime.now(UTC)


def _jst(at: datetime) -> str:
    return at.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M")


# --- the page ---------------------------------------------------------------------------------


@page_router.get("/manuals", response_class=HTMLResponse)
async def manuals_page(request: Request, db: DbSession) -> Response:
    """City staff review submitted versions; the contractor's admin drafts and submits."""
    user = await _page_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if user.role not in ("city", "admin"):
        return Response("市職員・管理者のページです。", status_code=403)
    rows = await service.versions(db=db)
    return templates.TemplateResponse(
        request,
        "manuals.html",
        {
            **_page_user_context(user),
            "versions": rows,
            "in_force": await service.in_force_number(db=db),
            "state_labels": STATE_LABELS,
            "has_draft": any(v.state == "draft" for v in rows),
            "missing": {v.number: service.missing_procedures(v) for v in rows},
            "contents": {
                v.number: json.dumps(
                    {"scripts": v.scripts, "faq": v.faq}, ensure_ascii=False, indent=2
                )
                for v in rows
                if v.state == "draft"
            },
            "jst": _jst,
        },
    )
