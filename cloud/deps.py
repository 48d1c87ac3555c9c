"""Dependencies shared by every domain's views: the database session and the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.models import Role, StaffUser, TokenScope
from cloud.auth.service import Session, session_for_token
from cloud.security import SESSION_COOKIE as SESSION_COOKIE  # re-exported for the views
from cloud.settings import CloudSettings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the view returns, rolled back on error."""
    async with request.app.state.sessions() as session, session.begin():
        yield session


def get_settings(request: Request) -> CloudSettings:
    settings: CloudSettings = request.app.state.settings
    return settings


# Committed before the response is sent ("function" scope): a page reloaded right after a
# change must see it.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
Settings = Annotated[CloudSettings, Depends(get_settings)]
# A row's number in a path. INTEGER columns hold 32 bits on PostgreSQL (64 on SQLite): a
# larger number names no row, but the driver would fail on it (a 500) rather than find none.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def set_session_cookie(response: Response, token: str, settings: CloudSettings) -> None:
    """The browser's copy of the token: HttpOnly (no script reads it), SameSite=Strict (no
    other site's page sends it), Secure in production."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.token_ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


async def get_session(request: Request, db: DbSession) -> Session:
    token = request_token(request)
    session = await session_for_token(db=db, token=token) if token else None
    if session is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required: log in and send the token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return session


async def get_current_user(session: Annotated[Session, Depends(get_session)]) -> StaffUser:
    if session.scope is not TokenScope.FULL:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "enrol a second factor first: POST /api/auth/totp/enrol, then /api/auth/totp/confirm",
        )
    return session.user


async def get_enrolling_user(session: Annotated[Session, Depends(get_session)]) -> StaffUser:
    """Any session, also one that may only enrol its second factor."""
    return session.user


get_enrolling_user.roles = frozenset(role.value for role in Role)  # type: ignore[attr-defined]


CurrentUser = Annotated[StaffUser, Depends(get_current_user)]
EnrollingUser = Annotated[StaffUser, Depends(get_enrolling_user)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, StaffUser]]:
    """A dependency that lets only `roles` through (403 for the other staff)."""
    allowed = frozenset(role.value for role in roles)

    async def check(user: CurrentUser) -> StaffUser:
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(sorted(allowed))}",
            )
        return user

    check.roles = allowed  # type: ignore[attr-defined]  # read by cloud/roles.py
    return check


ALL_STAFF = tuple(Role)
