"""Accounts and tokens. Services take keyword-only arguments and a session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.auth import recovery, totp
from cloud.auth.models import ApiToken, RecoveryCode, Role, StaffUser, TokenScope
from cloud.auth.passwords import hash_password, verify_password

if TYPE_CHECKING:
    from cloud.auth.oidc import Identity
    from cloud.settings import CloudSettings


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
# The idle clock is moved on at most this often: not one write per request.
IDLE_REFRESH = timedelta(seconds=30)


def totp_roles(settings: CloudSettings) -> frozenset[Role]:
    """The roles that must enrol a second factor, under these settings."""
    return settings.auth.totp_roles(production=settings.environment == "production")


async def _count_failure(*, db: AsyncSession, user: StaffUser, now: datetime) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCK_OUT
        user.failed_logins = 0
        await record(
            db=db,
            actor="system",
            action="login.locked",
            target=f"user:{user.username}",
            detail={"until": user.locked_until.isoformat()},
        )


class LoginOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"  # wrong name, password or code; locked; disabled
    TOTP_NEEDED = "totp_needed"  # the password was right; this account needs its code


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: StaffUser | None = None
    scope: TokenScope = TokenScope.FULL


async def log_in(
    *,
    db: AsyncSession,
    username: str,
    password: str,
    totp_code: str | None,
    totp_required: frozenset[Role],
    secret_key: str,
    recovery_code: str | None = None,
) -> LoginResult:
    """Password, then the TOTP code (or one of the user's recovery codes, used up by this)
    if the user has enrolled one. Five failures in a row (wrong passwords, codes and
    recovery codes alike) lock the account for 15 minutes; even the right password is
    refused meanwhile. A user of a role in `totp_required` who has not enrolled yet gets an
    enrolment-only session."""
    user = await db.scalar(
        select(StaffUser).where(StaffUser.username == username).with_for_update()
    )
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return LoginResult(LoginOutcome.FAILED)
    now = utc_now()
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(LoginOutcome.FAILED)
    if not ok:
        await _count_failure(db=db, user=user, now=now)
        return LoginResult(LoginOutcome.FAILED)
    if user.disabled:
        return LoginResult(LoginOutcome.FAILED)
    method = "password"
    if user.totp_confirmed_at is not None and not totp_code and recovery_code:
        if not await _use_recovery_code(db=db, user=user, code=recovery_code):
            await _count_failure(db=db, user=user, now=now)
            return LoginResult(LoginOutcome.FAILED)
        method = "password+recovery_code"
    elif user.totp_confirmed_at is not None:
        if not totp_code:
            return LoginResult(LoginOutcome.TOTP_NEEDED, user)
        step = _accept_code(user=user, code=totp_code, secret_key=secret_key)
        if step is None:
            await _count_failure(db=db, user=user, now=now)
            await record(
                db=db, actor=user.username, action="login.totp_failed", target=_target(user)
            )
            return LoginResult(LoginOutcome.FAILED)
        method = "password+totp"
    user.failed_logins = 0
    user.locked_until = None
    scope = TokenScope.FULL
    if Role(user.role) in totp_required and user.totp_confirmed_at is None:
        scope = TokenScope.ENROL
    await record(
        db=db,
        actor=user.username,
        action="login",
        target=_target(user),
        detail={"method": method, "scope": scope.value},
    )
    return LoginResult(LoginOutcome.OK, user, scope)


async def authenticate(*, db: AsyncSession, username: str, password: str) -> StaffUser | None:
    """The user, if the password is right, the account usable and no second factor
    enrolled (a user with one logs in through `log_in`)."""
    result = await log_in(
        db=db,
        username=username,
        password=password,
        totp_code=None,
        totp_required=frozenset(),
        secret_key="",
    )
    return result.user if result.outcome is LoginOutcome.OK else None


def _target(user: StaffUser) -> str:
    return f"user:{user.username}"


def _accept_code(*, user: StaffUser, code: str, secret_key: str) -> int | None:
    """Checks `code` against the user's secret and, if it is good, records its time step
    so it cannot be used again. The caller holds the user's row lock."""
    secret = (
        totp.decrypt_secret(user.totp_secret, secret_key=secret_key) if user.totp_secret else None
    )
    if secret is None:
        return None
    step = totp.matching_step(secret, code.strip(), last_step=user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
    return step


class TotpStateError(ValueError):
    pass


async def _use_recovery_code(*, db: AsyncSession, user: StaffUser, code: str) -> bool:
    """Marks the matching unused recovery code as used (the caller holds the user's row
    lock, so two log-ins cannot both use it). Both outcomes are audited."""
    raw = recovery.normalise(code)
    unused = list(
        await db.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
    )
    # Every unused code is checked, whichever matches (the same work for a right and a wrong
    # code); a malformed code is checked against nothing, but still counts as a failure.
    found = [row for row in unused if raw is not None and recovery.matches(row.code_hash, raw)]
    if not found:
        await record(
            db=db, actor=user.username, action="login.recovery_code_failed", target=_target(user)
        )
        return False
    found[0].used_at = utc_now()
    await record(
        db=db,
        actor=user.username,
        action="login.recovery_code_used",
        target=_target(user),
        detail={"left": len(unused) - 1},
    )
    return True


async def _replace_recovery_codes(*, db: AsyncSession, user: StaffUser) -> list[str]:
    """A new set of codes for the user; the old set stops working. Returns the codes (shown
    once: only their hashes are stored)."""
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = recovery.new_codes()
    now = utc_now()
    db.add_all(
        RecoveryCode(user_id=user.id, code_hash=recovery.hash_code(code), created_at=now)
        for code in codes
    )
    await db.flush()
    return codes


async def recovery_codes_left(*, db: AsyncSession, user: StaffUser) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


class RecoveryRefusedError(ValueError):
    """The password or the TOTP code is wrong, the account locked, or no second factor."""


async def regenerate_recovery_codes(
    *, db: AsyncSession, user: StaffUser, password: str, totp_code: str, secret_key: str
) -> list[str]:
    """A new set of recovery codes, proven with the password and a current TOTP code (not
    a recovery code: a stolen code must not mint more). Wrong attempts count toward the
    lock-out like log-ins."""
    user = await _locked_user(db=db, user_id=user.id)
    now = utc_now()
    if user.totp_confirmed_at is None:
        raise RecoveryRefusedError("no second factor is enrolled")
    if user.locked_until is not None and user.locked_until > now:
        raise RecoveryRefusedError("the account is locked for a while after failed attempts")
    good = verify_password(user.password_hash, password) and (
        _accept_code(user=user, code=totp_code, secret_key=secret_key) is not None
    )
    if not good:
        await _count_failure(db=db, user=user, now=now)
        await record(
            db=db,
            actor=user.username,
            action="totp.recovery_codes_refused",
            target=_target(user),
        )
        raise RecoveryRefusedError("the password or the code is wrong")
    user.failed_logins = 0
    codes = await _replace_recovery_codes(db=db, user=user)
    await record(
        db=db,
        actor=user.username,
        action="totp.recovery_codes_regenerated",
        target=_target(user),
        detail={"count": len(codes)},
    )
    return codes


async def _locked_user(*, db: AsyncSession, user_id: int) -> StaffUser:
    locked = await db.scalar(select(StaffUser).where(StaffUser.id == user_id).with_for_update())
    if locked is None:
        raise LookupError(f"no user {user_id}")
    return locked


async def start_totp_enrolment(
    *, db: AsyncSession, user: StaffUser, issuer: str, secret_key: str
) -> totp.Enrolment:
    """A new secret for the user, pending until a code confirms it. The secret is shown
    once, here; a confirmed second factor cannot be replaced (an admin resets it)."""
    user = await _locked_user(db=db, user_id=user.id)
    if user.totp_confirmed_at is not None:
        raise TotpStateError("a second factor is already enrolled; an administrator can reset it")
    secret = totp.new_secret()
    user.totp_secret = totp.encrypt_secret(secret, secret_key=secret_key)
    user.totp_last_step = None
    await record(db=db, actor=user.username, action="totp.enrol_started", target=_target(user))
    return totp.enrolment(secret, username=user.username, issuer=issuer)


def pending_totp_enrolment(
    *, user: StaffUser, issuer: str, secret_key: str
) -> totp.Enrolment | None:
    """The enrolment started but not confirmed yet (the page shows it again on reload)."""
    if user.totp_confirmed_at is not None or user.totp_secret is None:
        return None
    secret = totp.decrypt_secret(user.totp_secret, secret_key=secret_key)
    return totp.enrolment(secret, username=user.username, issuer=issuer) if secret else None


async def confirm_totp_enrolment(
    *, db: AsyncSession, user: StaffUser, code: str, secret_key: str, token: str | None
) -> list[str] | None:
    """The pending secret becomes the user's second factor if `code` is right; the session
    that confirmed it (`token`) is then a full session. Returns the user's new recovery
    codes (to show once), or None if the code was wrong."""
    user = await _locked_user(db=db, user_id=user.id)
    if user.totp_confirmed_at is not None:
        raise TotpStateError("a second factor is already enrolled")
    if user.totp_secret is None:
        raise TotpStateError("no enrolment started: POST /api/auth/totp/enrol first")
    if _accept_code(user=user, code=code, secret_key=secret_key) is None:
        await record(db=db, actor=user.username, action="totp.confirm_failed", target=_target(user))
        return None
    user.totp_confirmed_at = utc_now()
    if token is not None:
        await db.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == _token_hash(token))
            .values(scope=TokenScope.FULL.value)
        )
    codes = await _replace_recovery_codes(db=db, user=user)
    await record(
        db=db,
        actor=user.username,
        action="totp.enrolled",
        target=_target(user),
        detail={"recovery_codes": len(codes)},
    )
    return codes


async def reset_totp(*, db: AsyncSession, admin: StaffUser, user_id: int) -> StaffUser:
    """An administrator removes a user's second factor (a lost phone): the user's sessions
    end, and at the next log-in the user enrols again."""
    user = await _locked_user(db=db, user_id=user_id)
    had = user.totp_confirmed_at is not None
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await db.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))
    await record(
        db=db, actor=admin.username, action="totp.reset", target=_target(user), detail={"had": had}
    )
    return user


async def issue_token(
    *,
    db: AsyncSession,
    user: StaffUser,
    ttl: timedelta,
    idle_timeout: timedelta | None = None,
    scope: TokenScope = TokenScope.FULL,
) -> tuple[str, datetime]:
    """A new session. The log-in views decide its scope (`log_in`); callers inside the
    server (the demo's CLI token, tests) get a full session."""
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
            scope=scope.value,
            last_used_at=now,
            idle_timeout_s=int(idle_timeout.total_seconds()) if idle_timeout else None,
        )
    )
    await db.flush()
    return token, expires_at


@dataclass(frozen=True, slots=True)
class Session:
    user: StaffUser
    scope: TokenScope


async def session_for_token(*, db: AsyncSession, token: str) -> Session | None:
    """The user and scope of a live session: not revoked, within its lifetime and its idle
    timeout. Using it moves the idle clock on."""
    row = await db.execute(
        select(StaffUser, ApiToken)
        .join(ApiToken, ApiToken.user_id == StaffUser.id)
        .where(ApiToken.token_hash == _token_hash(token))
    )
    found = row.first()
    if found is None:
        return None
    user, api_token = found
    now = utc_now()
    if api_token.revoked or api_token.expires_at <= now or user.disabled:
        return None
    last_used = api_token.last_used_at or api_token.created_at
    if api_token.idle_timeout_s is not None:
        if last_used + timedelta(seconds=api_token.idle_timeout_s) <= now:
            return None
        if now - last_used >= IDLE_REFRESH:
            api_token.last_used_at = now
    return Session(user, TokenScope(api_token.scope))


async def user_for_token(*, db: AsyncSession, token: str) -> StaffUser | None:
    """The user of a live, full session (an enrolment-only session gives None)."""
    session = await session_for_token(db=db, token=token)
    if session is None or session.scope is not TokenScope.FULL:
        return None
    return session.user


async def revoke_token(*, db: AsyncSession, token: str) -> None:
    await db.execute(
        update(ApiToken).where(ApiToken.token_hash == _token_hash(token)).values(revoked=True)
    )


# A user made by the identity provider has no local password: this is no argon2 hash, so
# verify_password always fails for it.
NO_LOCAL_PASSWORD = "!oidc"  # noqa: S105  (a marker, not a password)


class OidcAccountError(ValueError):
    pass


async def oidc_totp_account(*, db: AsyncSession, identity: Identity) -> StaffUser | None:
    """The provider's user, if it already has an account here with its own TOTP: it may
    make up for a provider log-in without a second factor (else that log-in is refused)."""
    user = await db.scalar(select(StaffUser).where(StaffUser.oidc_subject == identity.subject))
    if user is None or user.disabled or user.totp_confirmed_at is None:
        return None
    return user


async def oidc_totp_login(
    *, db: AsyncSession, identity: Identity, code: str, secret_key: str
) -> StaffUser | None:
    """The second step of a provider log-in that proved no second factor: the account's own
    TOTP code. Wrong codes count toward the lock-out as at the password log-in."""
    user = await db.scalar(
        select(StaffUser).where(StaffUser.oidc_subject == identity.subject).with_for_update()
    )
    now = utc_now()
    if user is None or user.disabled or user.totp_confirmed_at is None:
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    if _accept_code(user=user, code=code, secret_key=secret_key) is None:
        await _count_failure(db=db, user=user, now=now)
        await record(db=db, actor=user.username, action="login.totp_failed", target=_target(user))
        return None
    user.failed_logins = 0
    user.locked_until = None
    return await oidc_user(db=db, identity=identity, method="oidc+totp")


async def oidc_user(*, db: AsyncSession, identity: Identity, method: str = "oidc") -> StaffUser:
    """The staff user the provider vouches for: found by its subject, else created. Its role
    follows the provider's claims at every log-in. A local account of the same name is never
    taken over. `method` is recorded with the log-in (oidc, oidc+mfa, oidc+totp)."""
    user = await db.scalar(
        select(StaffUser).where(StaffUser.oidc_subject == identity.subject).with_for_update()
    )
    if user is None:
        taken = await db.scalar(select(StaffUser).where(StaffUser.username == identity.username))
        if taken is not None:
            raise OidcAccountError(
                f"the user name '{identity.username}' belongs to a local account"
            )
        user = StaffUser(
            username=identity.username,
            display_name=identity.display_name,
            role=identity.role.value,
            password_hash=NO_LOCAL_PASSWORD,
            disabled=False,
            created_at=utc_now(),
            failed_logins=0,
            locked_until=None,
            oidc_subject=identity.subject,
        )
        db.add(user)
        await db.flush()
        await record(
            db=db,
            actor="system",
            action="user.created_by_oidc",
            target=_target(user),
            detail={"role": identity.role.value},
        )
    if user.disabled:
        raise OidcAccountError("this account is disabled")
    if user.role != identity.role.value:
        await record(
            db=db,
            actor="system",
            action="user.role_from_oidc",
            target=_target(user),
            detail={"from": user.role, "to": identity.role.value},
        )
        user.role = identity.role.value
    await record(
        db=db, actor=user.username, action="login", target=_target(user), detail={"method": method}
    )
    return user
