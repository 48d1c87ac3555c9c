"""The staff web pages: log-in and the kiosk list (端末一覧)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from cloud.auth import service
from cloud.auth.models import StaffUser, TokenScope
from cloud.auth.ratelimit import limit_logins
from cloud.calendar.schedule import UnknownSiteError
from cloud.deps import SESSION_COOKIE, DbSession, Settings, request_token, set_session_cookie
from cloud.fleet.service import list_kiosks
from cloud.reports import approval as report_approval
from cloud.reports.monthly import monthly_report
from cloud.routing.models import OUTCOME_LABELS, PROCEDURE_LABELS, REASON_LABELS
from cloud.settings import CloudSettings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    procedure_labels=PROCEDURE_LABELS, outcome_labels=OUTCOME_LABELS, reason_labels=REASON_LABELS
)
router = APIRouter(include_in_schema=False)

ROLE_LABELS = {
    "admin": "管理者",
    "operator": "オペレータ",
    "support": "支援員",
    "tech": "技術員",
    "city": "市職員",
}


MAINTAINERS = frozenset({"tech", "admin"})
PERIPHERAL_LABELS = {
    "card_reader": "カードリーダー",
    "tenkey": "テンキー",
    "face_camera": "顔写真カメラ",
    "document_scanner": "スタンドスキャナー",
    "headset": "ヘッドセット",
}


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def _login_page(
    request: Request, settings: CloudSettings, error: str | None, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"error": error, "oidc": settings.auth.oidc.enabled},
        status_code=status_code,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, db: DbSession, settings: Settings) -> Response:
    token = request_token(request)
    session = await service.session_for_token(db=db, token=token) if token else None
    if session is not None and session.scope is TokenScope.ENROL:
        return RedirectResponse("/totp/enrol", status_code=status.HTTP_303_SEE_OTHER)
    return _login_page(request, settings, None)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(limit_logins)])
async def login_form(
    request: Request,
    db: DbSession,
    settings: Settings,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    totp: Annotated[str, Form(max_length=16)] = "",
    recovery_code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    result = await service.log_in(
        db=db,
        username=username,
        password=password,
        totp_code=totp.strip() or None,
        totp_required=service.totp_roles(settings),
        secret_key=settings.auth.secret_key.get_secret_value(),
        recovery_code=recovery_code.strip() or None,
    )
    if result.user is None or result.outcome is not service.LoginOutcome.OK:
        await db.commit()  # keep the failed-attempt count
        error = "ユーザー名またはパスワードが正しくありません。"
        if result.outcome is service.LoginOutcome.TOTP_NEEDED:
            error = "確認コード（認証アプリの6桁の数字）も入力してください。"
        return _login_page(request, settings, error, status.HTTP_401_UNAUTHORIZED)
    token, _ = await service.issue_token(
        db=db,
        user=result.user,
        ttl=settings.token_ttl,
        idle_timeout=settings.auth.idle_timeout,
        scope=result.scope,
    )
    target = "/totp/enrol" if result.scope is TokenScope.ENROL else "/"
    if recovery_code.strip() and not totp.strip():
        target = "/totp/enrol"  # says how many recovery codes are left
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, token, settings)
    return response


@router.get("/totp/enrol", response_class=HTMLResponse)
async def totp_enrol_page(request: Request, db: DbSession, settings: Settings) -> Response:
    """The QR code to scan and a field for the first code. A pending secret is shown again
    on reload; a confirmed one never."""
    token = request_token(request)
    session = await service.session_for_token(db=db, token=token) if token else None
    if session is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    return await _totp_page(request, db, settings, session.user, None)


async def _totp_page(
    request: Request,
    db: DbSession,
    settings: CloudSettings,
    user: StaffUser,
    error: str | None,
    status_code: int = 200,
    codes_left: int | None = None,
) -> Response:
    if codes_left is None:
        codes_left = await service.recovery_codes_left(db=db, user=user)
    context: dict[str, object] = {
        "user": None,
        "error": error,
        "enrolment": None,
        "codes_left": codes_left,
    }
    if not user.totp_enrolled:
        key = settings.auth.secret_key.get_secret_value()
        enrolment = service.pending_totp_enrolment(
            user=user, issuer=settings.auth.totp_issuer, secret_key=key
        ) or await service.start_totp_enrolment(
            db=db, user=user, issuer=settings.auth.totp_issuer, secret_key=key
        )
        context["enrolment"] = enrolment
    return templates.TemplateResponse(request, "totp_enrol.html", context, status_code=status_code)


@router.post("/totp/confirm", response_class=HTMLResponse)
async def totp_confirm_form(
    request: Request,
    db: DbSession,
    settings: Settings,
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    token = request_token(request)
    session = await service.session_for_token(db=db, token=token) if token else None
    if session is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    try:
        confirmed = await service.confirm_totp_enrolment(
            db=db,
            user=session.user,
            code=code.strip(),
            secret_key=settings.auth.secret_key.get_secret_value(),
            token=token,
        )
    except service.TotpStateError:
        return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    if confirmed is None:
        error = "確認コードが正しくないか、使用済みです。次のコードを入力してください。"
        return await _totp_page(
            request, db, settings, session.user, error, status.HTTP_400_BAD_REQUEST
        )
    return _recovery_codes_page(request, confirmed)


def _recovery_codes_page(request: Request, codes: list[str]) -> Response:
    """The new recovery codes, shown this once (only their hashes are kept)."""
    return templates.TemplateResponse(
        request, "recovery_codes.html", {"user": None, "codes": codes}
    )


@router.post("/totp/recovery-codes", response_class=HTMLResponse)
async def recovery_codes_form(
    request: Request,
    db: DbSession,
    settings: Settings,
    password: Annotated[str, Form(max_length=256)],
    totp: Annotated[str, Form(max_length=16)],
) -> Response:
    """A new set of recovery codes, with the password and a current TOTP code."""
    token = request_token(request)
    user = await service.user_for_token(db=db, token=token) if token else None
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    try:
        codes = await service.regenerate_recovery_codes(
            db=db,
            user=user,
            password=password,
            totp_code=totp.strip(),
            secret_key=settings.auth.secret_key.get_secret_value(),
        )
    except service.RecoveryRefusedError:
        left = await service.recovery_codes_left(db=db, user=user)
        await db.commit()  # keep the failed-attempt count
        error = "パスワードまたは確認コードが正しくありません。"
        return await _totp_page(
            request, db, settings, user, error, status.HTTP_403_FORBIDDEN, codes_left=left
        )
    return _recovery_codes_page(request, codes)


@router.post("/logout")
async def logout_form(request: Request, db: DbSession) -> Response:
    token = request_token(request)
    if token:
        await service.revoke_token(db=db, token=token)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
async def kiosks_page(request: Request, db: DbSession) -> Response:
    token = request_token(request)
    user = await service.user_for_token(db=db, token=token) if token else None
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    kiosks = await list_kiosks(db=db)
    return templates.TemplateResponse(
        request,
        "kiosks.html",
        {
            "user": user,
            "role_label": ROLE_LABELS.get(user.role, user.role),
            "kiosks": kiosks,
            "can_maintain": user.role in MAINTAINERS,
            "peripheral_labels": PERIPHERAL_LABELS,
        },
    )


def _page_user_context(user: StaffUser) -> dict[str, object]:
    return {"user": user, "role_label": ROLE_LABELS.get(user.role, user.role)}


async def _page_user(request: Request, db: DbSession) -> StaffUser | None:
    token = request_token(request)
    return await service.user_for_token(db=db, token=token) if token else None


@router.get("/operator", response_class=HTMLResponse)
async def operator_page(request: Request, db: DbSession) -> Response:
    user = await _page_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if user.role != "operator":
        return Response("オペレーター専用のページです。", status_code=403)
    return templates.TemplateResponse(request, "operator.html", _page_user_context(user))


@router.get("/support", response_class=HTMLResponse)
async def support_page(request: Request, db: DbSession) -> Response:
    user = await _page_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if user.role not in ("support", "admin"):
        return Response("支援員のページです。", status_code=403)
    return templates.TemplateResponse(request, "support.html", _page_user_context(user))


@router.get("/join/{token}", response_class=HTMLResponse)
async def guest_page(request: Request, token: str) -> Response:
    """The invited third party's page. No log-in: the link's token is checked, once, by the
    page's WebSocket; this page holds nothing but the player."""
    return templates.TemplateResponse(request, "guest.html", {"user": None})


def _previous_month(today: date) -> str:
    first = today.replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    db: DbSession,
    settings: Settings,
    site: str = "city-hall",
    month: str | None = None,
) -> Response:
    user = await _page_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if user.role not in ("city", "admin"):
        return Response("市職員のページです。", status_code=403)
    month = month or _previous_month(datetime.now(UTC).date())
    context: dict[str, object] = {**_page_user_context(user), "site": site, "month": month}
    try:
        report = await monthly_report(
            db=db,
            site_id=site,
            month=month,
            billing=settings.billing,
            sites_dir=settings.calendar.sites_dir,
        )
    except (UnknownSiteError, ValueError):
        context["bill"] = None
    else:
        context.update(
            bill=report.bill,
            opening_days=report.opening_days,
            online=report.online_total,
            support=report.support_total,
            approval=(
                await report_approval.status(
                    db=db,
                    site_id=site,
                    month=month,
                    billing=settings.billing,
                    sites_dir=settings.calendar.sites_dir,
                    report=report,
                )
            ).as_json(),
        )
    return templates.TemplateResponse(request, "reports.html", context)
