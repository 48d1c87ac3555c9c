"""`/api/consent-documents` (admins record, city reads) and `/api/privacy/inventory`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.deps import CurrentUser, DbSession, RowId, Settings, require_roles
from cloud.privacy import service
from cloud.privacy.inventory import inventory
from cloud.privacy.models import ConsentDocument, ConsentKind

router = APIRouter(tags=["privacy"])
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Readers = Annotated[StaffUser, Depends(require_roles(Role.ADMIN, Role.CITY))]
VERSION = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"


class ConsentDocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ConsentKind
    version: str = Field(pattern=VERSION, description="As the kiosk shows it, e.g. 2026-04")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000, description="The text, in Japanese")
    effective_from: date = Field(description="In force from this day (Japan time)")


class ConsentDocumentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000)
    effective_from: date


class ConsentDocumentView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    version: str
    title: str
    body: str
    effective_from: date
    created_by: str
    created_at: datetime


class CurrentConsentView(BaseModel):
    terms: ConsentDocumentView | None
    privacy: ConsentDocumentView | None
    # What kiosks are given (the protocol's defaults while nothing is recorded).
    terms_version: str
    privacy_version: str


def _wake_sync(request: Request) -> None:
    sync = getattr(request.app.state, "consent_sync", None)
    if sync is not None:
        sync.wake()


async def _document(db: DbSession, document_id: int) -> ConsentDocument:
    document = await db.get(ConsentDocument, document_id)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such consent document")
    return document


@router.post(
    "/api/consent-documents",
    response_model=ConsentDocumentView,
    status_code=status.HTTP_201_CREATED,
)
async def create_document(
    body: ConsentDocumentIn, db: DbSession, user: Admin, request: Request
) -> Any:
    try:
        document = await service.create(
            db=db,
            kind=body.kind,
            version=body.version,
            title=body.title,
            body=body.body,
            effective_from=body.effective_from,
            created_by=user.username,
        )
    except service.DuplicateVersionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await audit.record(
        db=db,
        actor=user.username,
        action="consent.add",
        target=f"{body.kind.value}:{body.version}",
        detail={"effective_from": body.effective_from.isoformat()},
    )
    await db.commit()  # visible to the sync before it is woken
    _wake_sync(request)
    return document


@router.get("/api/consent-documents", response_model=list[ConsentDocumentView])
async def list_documents(
    db: DbSession, _user: Readers, kind: Annotated[ConsentKind | None, Query()] = None
) -> Any:
    return await service.documents(db=db, kind=kind)


@router.get("/api/consent-documents/current", response_model=CurrentConsentView)
async def current_documents(db: DbSession, _user: Readers) -> Any:
    current = await service.current_versions(db=db, today=service.today_in_japan())
    config = current.kiosk_config()
    return CurrentConsentView(
        terms=ConsentDocumentView.model_validate(current.terms) if current.terms else None,
        privacy=ConsentDocumentView.model_validate(current.privacy) if current.privacy else None,
        terms_version=config.terms_version,
        privacy_version=config.privacy_version,
    )


@router.get("/api/consent-documents/{document_id}", response_model=ConsentDocumentView)
async def get_document(document_id: RowId, db: DbSession, _user: Readers) -> Any:
    return await _document(db, document_id)


@router.put("/api/consent-documents/{document_id}", response_model=ConsentDocumentView)
async def update_document(
    document_id: RowId, body: ConsentDocumentUpdate, db: DbSession, user: Admin, request: Request
) -> Any:
    document = await _document(db, document_id)
    try:
        await service.update(
            db=db,
            document=document,
            title=body.title,
            body=body.body,
            effective_from=body.effective_from,
            today=service.today_in_japan(),
        )
    except service.DocumentInForceError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await audit.record(
        db=db,
        actor=user.username,
        action="consent.update",
        target=f"{document.kind}:{document.version}",
        detail={"effective_from": body.effective_from.isoformat()},
    )
    await db.commit()
    _wake_sync(request)
    return document


@router.delete("/api/consent-documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    document_id: RowId, db: DbSession, user: Admin, request: Request
) -> Response:
    document = await _document(db, document_id)
    target = f"{document.kind}:{document.version}"
    try:
        await service.delete(db=db, document=document, today=service.today_in_japan())
    except service.DocumentInForceError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await audit.record(db=db, actor=user.username, action="consent.delete", target=target)
    await db.commit()
    _wake_sync(request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/privacy/inventory")
async def privacy_inventory(_user: CurrentUser, settings: Settings) -> dict[str, object]:
    """What is stored where, and for how long (any staff role)."""
    return inventory(settings.privacy.retention)
