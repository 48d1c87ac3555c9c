"""`/api/auth/*` (log-in, the TOTP second factor), `/api/users`, and the OIDC log-in
(`/auth/oidc/*`, off unless configured).

Log-in is one step: `POST /api/auth/login` with `username`, `password` and, once the user
has enrolled a second factor, `totp` (the current 6-digit code) or `recovery_code` (one of
the ten one-time codes shown at enrolment). Without either such a log-in answers 401 with
`TOTP_NEEDED` as its detail. A user whose role must enrol (admin and
tech in production) and has not yet gets a session that reaches only `/api/auth/totp*` and
log-out (`totp_enrolment_required: true`) until `POST /api/auth/totp/confirm` succeeds."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from cloud.audit.service import record
from cloud.auth import oidc, service
from cloud.auth.models import Role, StaffUser, TokenScope
from cloud.auth.passwords import WeakPasswordError
from cloud.auth.ratelimit import limit_logins
from cloud.auth.schemas import (
    LoginRequest,
    RecoveryCodes,
    RecoveryCodesLeft,
    RecoveryCodesRegenerate,
    TokenRead,
    TotpConfirm,
    TotpConfirmed,
    TotpEnrolment,
    TotpStatus,
    UserCreate,
    UserRead,
)
from cloud.deps import (
    SESSION_COOKIE,
    CurrentUser,
    DbSession,
    EnrollingUser,
    RowId,
    Settings,
    request_token,
    require_roles,
    set_session_cookie,
)
from cloud.settings import CloudSettings

api = APIRouter(prefix="/api", tags=["auth"])
AdminUser = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]

LOGIN_FAILED = "the user name or password is wrong, or the account is disabled"
TOTP_NEEDED = "totp_needed: this account needs its current TOTP code in `totp`"
CODE_REFUSED = "the code is wrong or was already used; wait for the next one"


@api.post("/auth/login", response_model=TokenRead, dependencies=[Depends(limit_logins)])
async def login(
    body: LoginRequest, response: Response, db: DbSession, settings: Settings
) -> TokenRead:
    result = await service.log_in(
        db=db,
        username=body.username,
        password=body.password,
        totp_code=body.totp,
        totp_required=service.totp_roles(settings),
        secret_key=settings.auth.secret_key.get_secret_value(),
        recovery_code=body.recovery_code,
    )
    if result.outcome is service.LoginOutcome.TOTP_NEEDED:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, TOTP_NEEDED)
    if result.user is None:
        await db.commit()  # keep the failed-attempt count despite the error response
        # One message for every failure: it must not tell whether the user exists or is locked.
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, LOGIN_FAILED)
    token, expires_at = await service.issue_token(
        db=db,
        user=result.user,
        ttl=settings.token_ttl,
        idle_timeout=settings.auth.idle_timeout,
        scope=result.scope,
    )
    set_session_cookie(response, token, settings)
    return TokenRead(
        token=token,
        expires_at=expires_at,
        user=UserRead.model_validate(result.user),
        totp_enrolment_required=result.scope is TokenScope.ENROL,
    )


@api.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, _user: EnrollingUser, db: DbSession) -> None:
    token = request_token(request)
    if token:
        await service.revoke_token(db=db, token=token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@api.get("/auth/me", response_model=UserRead)
async def me(user: CurrentUser) -> StaffUser:
    return user


@api.get("/auth/totp", response_model=TotpStatus)
async def totp_status(user: EnrollingUser, settings: Settings) -> TotpStatus:
    required = Role(user.role) in service.totp_roles(settings)
    return TotpStatus(enrolled=user.totp_enrolled, required=required)


@api.post("/auth/totp/enrol", response_model=TotpEnrolment)
async def totp_enrol(user: EnrollingUser, db: DbSession, settings: Settings) -> TotpEnrolment:
    """A new secret (base32), its otpauth URI and the QR code as SVG, for an authenticator
    app. Shown this once; call again to replace a secret not yet confirmed."""
    try:
        enrolment = await service.start_totp_enrolment(
            db=db,
            user=user,
            issuer=settings.auth.totp_issuer,
            secret_key=settings.auth.secret_key.get_secret_value(),
        )
    except service.TotpStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return TotpEnrolment(
        secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg
    )


@api.post("/auth/totp/confirm", response_model=TotpConfirmed)
async def totp_confirm(
    body: TotpConfirm, request: Request, user: EnrollingUser, db: DbSession, settings: Settings
) -> TotpConfirmed:
    """The first code from the app: the second factor is on, and this session is full. The
    answer carries ten recovery codes, shown this once."""
    try:
        confirmed = await service.confirm_totp_enrolment(
            db=db,
            user=user,
            code=body.code,
            secret_key=settings.auth.secret_key.get_secret_value(),
            token=request_token(request),
        )
    except service.TotpStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if confirmed is None:
        await db.commit()  # keep the audit entry of the failed attempt
        raise HTTPException(status.HTTP_400_BAD_REQUEST, CODE_REFUSED)
    return TotpConfirmed(
        enrolled=True,
        required=Role(user.role) in service.totp_roles(settings),
        recovery_codes=confirmed,
    )


@api.get("/auth/recovery-codes", response_model=RecoveryCodesLeft)
async def recovery_codes_left(user: CurrentUser, db: DbSession) -> RecoveryCodesLeft:
    return RecoveryCodesLeft(left=await service.recovery_codes_left(db=db, user=user))


@api.post("/auth/recovery-codes", response_model=RecoveryCodes)
async def regenerate_recovery_codes(
    body: RecoveryCodesRegenerate, user: CurrentUser, db: DbSession, settings: Settings
) -> RecoveryCodes:
    """A new set of ten recovery codes (the old set stops working), with the password and a
    current TOTP code. Wrong attempts count toward the account's lock-out (which bounds
    guessing here; no per-address limit, so a request without a session still gets 401)."""
    try:
        codes = await service.regenerate_recovery_codes(
            db=db,
            user=user,
            password=body.password,
            totp_code=body.totp,
            secret_key=settings.auth.secret_key.get_secret_value(),
        )
    except service.RecoveryRefusedError as exc:
        await db.commit()  # keep the failed-attempt count and its audit entry
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return RecoveryCodes(recovery_codes=codes)


@api.get("/users", response_model=list[UserRead])
async def list_users(_admin: AdminUser, db: DbSession) -> list[StaffUser]:
    return list(await db.scalars(select(StaffUser).order_by(StaffUser.username)))


@api.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, _admin: AdminUser, db: DbSession) -> StaffUser:
    try:
        return await service.create_user(
            db=db,
            username=body.username,
            password=body.password,
            role=body.role,
            display_name=body.display_name,
        )
    except WeakPasswordError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except service.UsernameTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@api.delete("/users/{user_id}/totp", response_model=UserRead)
async def reset_totp(user_id: RowId, admin: AdminUser, db: DbSession) -> StaffUser:
    """Removes a user's second factor (a lost phone) and ends the user's sessions."""
    try:
        return await service.reset_totp(db=db, admin=admin, user_id=user_id)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}") from None


oidc_router = APIRouter(prefix="/auth/oidc", include_in_schema=False)


def _oidc_refused(message: str) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="ja"><meta charset="utf-8"><title>ログインできません</title>'
        "<p>認証基盤でのログインができませんでした。</p>"
        f'<p>{_escape(message)}</p><p><a href="/login">ログイン画面へ</a></p></html>'
    )
    return HTMLResponse(page, status_code=status.HTTP_403_FORBIDDEN)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@oidc_router.get("/login", dependencies=[Depends(limit_logins)])
async def oidc_login(request: Request, settings: Settings) -> Response:
    config = settings.auth.oidc
    if not config.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "OIDC log-in is not configured")
    redirect_uri = config.redirect_url or str(request.url_for("oidc_callback"))
    try:
        async with httpx.AsyncClient(timeout=config.timeout_s) as client:
            provider = await oidc.discover(client, config)
    except oidc.OidcError as exc:
        return _oidc_refused(str(exc))
    url, flow = oidc.start(provider, config, redirect_uri)
    response = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    # Lax, not Strict: the provider's redirect back is a cross-site navigation.
    response.set_cookie(
        oidc.FLOW_COOKIE,
        oidc.seal(flow, secret_key=settings.auth.secret_key.get_secret_value()),
        max_age=oidc.FLOW_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/auth/oidc",
    )
    return response


MFA_REFUSED = (
    "この役割（管理者・技術員）は多要素認証が必要ですが、認証基盤でのログインに多要素認証の"
    "記録がありません。認証基盤で多要素認証を使ってログインし直してください。"
    " / This role needs a second factor, and the identity provider's log-in carried none "
    "(amr/acr): sign in there with multi-factor authentication."
)


def _signed_in(user: StaffUser, token: str, settings: CloudSettings) -> Response:
    # A page, not a redirect: the browser sends the SameSite=Strict session cookie only on
    # a navigation that starts on our own site, not at the end of the provider's redirects.
    response = HTMLResponse(
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="0;url=/"><title>ログイン</title>'
        '<p><a href="/">端末一覧へ</a></p></html>'
    )
    set_session_cookie(response, token, settings)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/auth/oidc")
    response.delete_cookie(oidc.PENDING_COOKIE, path="/auth/oidc")
    return response


def _totp_step(error: str | None = None) -> HTMLResponse:
    """The provider signed the user in without a second factor; the account's own TOTP
    makes up for it."""
    message = f'<p class="error" role="alert">{_escape(error)}</p>' if error else ""
    page = (
        '<!doctype html><html lang="ja"><meta charset="utf-8"><title>確認コード</title>'
        '<link rel="stylesheet" href="/static/app.css"><main><h1>確認コード</h1>'
        "<p>認証基盤でのログインに多要素認証の記録がありません。"
        "認証アプリの確認コード（6桁）を入力してください。</p>"
        f'{message}<form method="post" action="/auth/oidc/totp" class="card">'
        '<label for="code">確認コード</label><input id="code" name="code" inputmode="numeric" '
        'autocomplete="one-time-code" maxlength="6" required>'
        '<button type="submit">ログイン</button></form></main></html>'
    )
    return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED if error else 200)


@oidc_router.get("/callback", name="oidc_callback", dependencies=[Depends(limit_logins)])
async def oidc_callback(
    request: Request,
    db: DbSession,
    settings: Settings,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    config = settings.auth.oidc
    if not config.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "OIDC log-in is not configured")
    secret_key = settings.auth.secret_key.get_secret_value()
    sealed = request.cookies.get(oidc.FLOW_COOKIE, "")
    flow = oidc.unseal(sealed, secret_key=secret_key) if sealed else None
    try:
        if error:
            raise oidc.OidcError("the identity provider refused the log-in")
        if flow is None or not code:
            raise oidc.OidcError("the log-in expired or was not started here: start again")
        oidc.check_state(flow, state)
        async with httpx.AsyncClient(timeout=config.timeout_s) as client:
            provider = await oidc.discover(client, config)
            id_token = await oidc.exchange(client, provider, config, flow, code)
            keys = await oidc.fetch_keys(client, provider)
        claims = oidc.verify_id_token(id_token, keys, config, flow)
        identity = oidc.map_identity(claims, config)
        method = "oidc"
        if identity.role in service.totp_roles(settings):
            if not oidc.proves_second_factor(claims, config):
                if await service.oidc_totp_account(db=db, identity=identity) is None:
                    raise oidc.OidcError(MFA_REFUSED)
                response: Response = _totp_step()
                response.set_cookie(
                    oidc.PENDING_COOKIE,
                    oidc.seal_pending(identity, secret_key=secret_key),
                    max_age=oidc.PENDING_MAX_AGE_S,
                    httponly=True,
                    samesite="strict",
                    secure=settings.cookie_secure,
                    path="/auth/oidc",
                )
                response.delete_cookie(oidc.FLOW_COOKIE, path="/auth/oidc")
                return response
            method = "oidc+mfa"
        user = await service.oidc_user(db=db, identity=identity, method=method)
    except (oidc.OidcError, service.OidcAccountError) as exc:
        await record(
            db=db,
            actor="system",
            action="login.oidc_refused",
            target="oidc",
            detail={"reason": str(exc)},
        )
        response = _oidc_refused(str(exc))
        response.delete_cookie(oidc.FLOW_COOKIE, path="/auth/oidc")
        return response
    token, _ = await service.issue_token(
        db=db, user=user, ttl=settings.token_ttl, idle_timeout=settings.auth.idle_timeout
    )
    return _signed_in(user, token, settings)


@oidc_router.post("/totp", dependencies=[Depends(limit_logins)])
async def oidc_totp(
    request: Request,
    db: DbSession,
    settings: Settings,
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    """The TOTP step after a provider log-in that proved no second factor."""
    if not settings.auth.oidc.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "OIDC log-in is not configured")
    secret_key = settings.auth.secret_key.get_secret_value()
    sealed = request.cookies.get(oidc.PENDING_COOKIE, "")
    identity = oidc.unseal_pending(sealed, secret_key=secret_key) if sealed else None
    if identity is None:
        return _oidc_refused("the log-in expired or was not started here: start again")
    user = await service.oidc_totp_login(
        db=db, identity=identity, code=code.strip(), secret_key=secret_key
    )
    if user is None:
        await db.commit()  # keep the failed-attempt count
        return _totp_step("確認コードが正しくないか、使用済みです。")
    token, _ = await service.issue_token(
        db=db, user=user, ttl=settings.token_ttl, idle_timeout=settings.auth.idle_timeout
    )
    return _signed_in(user, token, settings)


router = APIRouter()
router.include_router(api)
router.include_router(oidc_router)
