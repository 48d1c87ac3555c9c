"""`/api/auth/*` and `/api/users`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import select

from cloud.auth import service
from cloud.auth.models import Role, StaffUser
from cloud.auth.passwords import WeakPasswordError
from cloud.auth.ratelimit import limit_logins
from cloud.auth.schemas import LoginRequest, TokenRead, UserCreate, UserRead
from cloud.deps import (
    SESSION_COOKIE,
    CurrentUser,
    DbSession,
    Settings,
    request_token,
    require_roles,
    set_session_cookie,
)

router = APIRouter(prefix="/api", tags=["auth"])
AdminUser = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]

LOGIN_FAILED = "the user name or password is wrong, or the account is disabled"


@router.post("/auth/login", response_model=TokenRead, dependencies=[Depends(limit_logins)])
async def login(
    body: LoginRequest, response: Response, db: DbSession, settings: Settings
) -> TokenRead:
    user = await service.authenticate(db=db, username=body.username, password=body.password)
    if user is None:
        await db.commit()  # keep the failed-attempt count despite the error response
        # One message for every failure: it must not tell whether the user exists or is locked.
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, LOGIN_FAILED)
    token, expires_at = await service.issue_token(db=db, user=user, ttl=settings.token_ttl)
    set_session_cookie(response, token, settings)
    return TokenRead(token=token, expires_at=expires_at, user=UserRead.model_validate(user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, _user: CurrentUser, db: DbSession) -> None:
    token = request_token(request)
    if token:
        await service.revoke_token(db=db, token=token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=UserRead)
async def me(user: CurrentUser) -> StaffUser:
    return user


@router.get("/users", response_model=list[UserRead])
async def list_users(_admin: AdminUser, db: DbSession) -> list[StaffUser]:
    return list(await db.scalars(select(StaffUser).order_by(StaffUser.username)))


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
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
