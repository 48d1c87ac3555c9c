"""Accounts and tokens. Services take keyword-only arguments and a session."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.auth.models import ApiToken, Role, StaffUser
from cloud.auth.passwords import hash_password, verify_password


class UsernameTakenError(ValueError):
    pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


async def create_user(
    *, db: AsyncSession, username: str, password: str, role: Role, display_name: str
) -> StaffUser:
    existing = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if existing is not None:
        raise UsernameTakenError(f"the user name '{username}' is taken")
    user = StaffUser(
        username=username,
        display_name=display_name,
        role=role.value,
        password_hash=hash_password(password),
        disabled=False,
        created_at=utc_now(),
        failed_logins=0,
        locked_until=None,
    )
    db.add(user)
    await db.flush()
    return user


async def ensure_user(
    *, db: AsyncSession, username: str, password: str, role: Role, display_name: str
) -> StaffUser:
    """The user with this name, created if missing, its password and role set as given."""
    user = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        return await create_user(
            db=db, username=username, password=password, role=role, display_name=display_name
        )
    if not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
    user.role = role.value
    user.disabled = False
    return user


MAX_FAILED_LOGINS = 5
LOCK_OUT = timedelta(minutes=15)


async def authenticate(*, db: AsyncSession, username: str, password: str) -> StaffUser | None:
    """The user, if the password is right and the account usable. Five wrong passwords in a
    row lock the account for 15 minutes (even the right password is refused meanwhile)."""
    user = await db.scalar(
        select(StaffUser).where(StaffUser.username == username).with_for_update()
    )
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return None
    now = utc_now()
    if user.locked_until is not None and user.locked_until > now:
        return None
    if not ok:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCK_OUT
            user.failed_logins = 0
            await record(
                db=db,
                actor="system",
                action="login.locked",
                target=f"user:{username}",
                detail={"until": user.locked_until.isoformat()},
            )
        return None
    user.failed_logins = 0
    user.locked_until = None
    if user.disabled:
        return None
    return user


async def issue_token(*, db: AsyncSession, user: StaffUser, ttl: timedelta) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    now = utc_now()
    expires_at = now + ttl
    db.add(
        ApiToken(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires_at,
            revoked=False,
        )
    )
    await db.flush()
    return token, expires_at


async def user_for_token(*, db: AsyncSession, token: str) -> StaffUser | None:
    row = await db.execute(
        select(StaffUser, ApiToken)
        .join(ApiToken, ApiToken.user_id == StaffUser.id)
        .where(ApiToken.token_hash == _token_hash(token))
    )
    found = row.first()
    if found is None:
        return None
    user, api_token = found
    if api_token.revoked or api_token.expires_at <= utc_now() or user.disabled:
        return None
    return user


async def revoke_token(*, db: AsyncSession, token: str) -> None:
    await db.execute(
        update(ApiToken).where(ApiToken.token_hash == _token_hash(token)).values(revoked=True)
    )
