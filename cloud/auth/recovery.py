"""TOTP recovery codes: ten one-time codes that stand in for the authenticator app.

Each code is 10 characters of base32 (50 random bits), shown as `xxxxx-xxxxx`. Only an argon2
hash of each is stored. The hash runs with light parameters: the codes are random, not chosen
by people, so a stolen hash is not brute-forced however fast the hash is, and a log-in checks
up to ten of them.

Pure functions: the caller (auth/service.py) loads and stores the rows."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COUNT = 10
LENGTH = 10
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/1/8/9 to mistake for letters

_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def new_codes(count: int = COUNT) -> list[str]:
    return [_shown("".join(secrets.choice(ALPHABET) for _ in range(LENGTH))) for _ in range(count)]


def _shown(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def normalise(code: str) -> str | None:
    """The code as stored (lower case, no separators), or None if it cannot be one."""
    raw = code.strip().lower().replace("-", "").replace(" ", "")
    if len(raw) != LENGTH or any(char not in ALPHABET for char in raw):
        return None
    return raw


def hash_code(code: str) -> str:
    raw = normalise(code)
    if raw is None:
        raise ValueError("not a recovery code")
    return _hasher.hash(raw)


def matches(code_hash: str, raw: str) -> bool:
    try:
        return _hasher.verify(code_hash, raw)
    except (VerificationError, InvalidHashError):
        return False
