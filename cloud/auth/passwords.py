"""Password hashing with argon2 (argon2-cffi's defaults: Argon2id, RFC 9106 low-memory)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a failed login
# the same whether or not the name is known.
_DUMMY_HASH = _hasher.hash("madoguchi-timing-equaliser")


class WeakPasswordError(ValueError):
    pass


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or len(set(password)) < 4:
        raise WeakPasswordError("a password must not be padded or repeat one or two characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
