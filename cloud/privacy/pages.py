"""`/privacy`: the data inventory page (データの取扱い), for any staff role, and
`/consent-documents`: the terms of use and privacy policy versions (admins add a version
through `/api/consent-documents`, city staff read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from cloud.auth.models import Role, StaffUser
from cloud.deps import CurrentUser, DbSession, Settings, require_roles
from cloud.privacy import service
from cloud.privacy.inventory import inventory
from cloud.privacy.models import CONSENT_KIND_LABELS, ConsentKind
from cloud.ui.views import ROLE_LABELS, templates

router = APIRouter(include_in_schema=False)

WHERE_LABELS = {
    "control-plane DB": "管理サーバーのデータベース",
    "time-series store": "時系列データベース",
    "kiosk RAM session dir": "端末のメモリ上のセッション領域",
    "kiosk disk queue": "端末のディスク上の送信待ち",
}
PERSONAL_LABELS = {
    "none": "個人情報なし",
    "staff": "職員の氏名・アカウント",
    "resident": "住民の個人情報（端末内のみ）",
    "unknown": "未記載",
}


@router.get("/privacy", response_class=HTMLResponse)
async def privacy_page(
    request: Request, user: CurrentUser, db: DbSession, settings: Settings
) -> Response:
    data = inventory(settings.privacy.retention)
    current = await service.current_versions(db=db, today=service.today_in_japan())
    config = current.kiosk_config()
    return templates.TemplateResponse(
        request,
        "privacy.html",
        {
            "user": user,
            "role_label": ROLE_LABELS.get(user.role, user.role),
            "inventory": data,
            "where_labels": WHERE_LABELS,
            "personal_labels": PERSONAL_LABELS,
            "consent": [
                (CONSENT_KIND_LABELS["terms"], config.terms_version, current.terms),
                (CONSENT_KIND_LABELS["privacy"], config.privacy_version, current.privacy),
            ],
        },
    )


@router.get("/consent-documents", response_class=HTMLResponse)
async def consent_documents_page(
    request: Request,
    user: Annotated[StaffUser, Depends(require_roles(Role.ADMIN, Role.CITY))],
    db: DbSession,
) -> Response:
    """Each kind's versions, newest first, with the one in force marked; admins get the
    form for a new version (sent by static/consent.js to the API, CSRF-guarded there)."""
    today = service.today_in_japan()
    current = await service.current_versions(db=db, today=today)
    in_force = {doc.id for doc in (current.terms, current.privacy) if doc is not None}
    config = current.kiosk_config()
    return templates.TemplateResponse(
        request,
        "consent_documents.html",
        {
            "user": user,
            "role_label": ROLE_LABELS.get(user.role, user.role),
            "today": today,
            "kinds": [
                (
                    kind.value,
                    CONSENT_KIND_LABELS[kind],
                    config.terms_version if kind is ConsentKind.TERMS else config.privacy_version,
                    await service.documents(db=db, kind=kind),
                )
                for kind in ConsentKind
            ],
            "in_force": in_force,
            "can_edit": user.role == Role.ADMIN,
        },
    )
