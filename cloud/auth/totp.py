"""TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps) with pyotp: the secret encrypted at
rest, a window of one step either side, and no code accepted twice.

Pure functions: the caller (auth/service.py) loads and stores the user row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken

STEP_S = 30
DIGITS = 6
WINDOW = 1  # steps accepted before and after the current one (clock drift)


def fernet_for(secret_key: str, purpose: str) -> Fernet:
    """A Fernet key for one purpose, derived from the settings' secret key."""
    digest = hashlib.sha256(f"madoguchi/{purpose}\0{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str, *, secret_key: str) -> str:
    return fernet_for(secret_key, "totp").encrypt(secret.encode()).decode()


def decrypt_secret(stored: str, *, secret_key: str) -> str | None:
    """The base32 secret, or None if it was encrypted under another key."""
    try:
        return fernet_for(secret_key, "totp").decrypt(stored.encode()).decode()
    except InvalidToken:
        return None


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def enrolment(secret: str, *, username: str, issuer: str) -> Enrolment:
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(
        name=username, issuer_name=issuer
    )
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, title="TOTP QR code")
    return Enrolment(secret=secret, uri=uri, qr_svg=qr_svg)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_S)


def matching_step(
    secret: str, code: str, *, last_step: int | None, now: float | None = None
) -> int | None:
    """The time step `code` belongs to, if it is valid now (±WINDOW steps) and newer than
    the last accepted one; else None. A code already used, or older than a used one, fails."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    step = current_step(now)
    found = None
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        # Every candidate is compared (constant work), the latest match wins.
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            found = candidate
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def code_at(secret: str, step: int) -> str:
    """The code for a time step (tests and the enrolment page's self-check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).generate_otp(step)
