"""Automatic certificate renewal on the kiosk.

The agent looks at its certificate at start and then daily (or sooner, when renewal falls
due before then). Once less than `renew_when_left` of the lifetime is left it asks the
control plane for a new certificate (`/api/enroll/renew`, signed with the current key, a new
key made on the box: `provisioning/kiosk_identity.py`), writes key and certificate
atomically (0600), and, once no resident is being served, has the link reconnect so the
next TLS handshake uses them. Queued messages stay in the outbox across the reconnect.

A failure is retried with backoff and reported as an `error` event (`operation:
certificate_renewal`, the control plane's reason; never personal data). The old certificate
stays valid meanwhile, so a kiosk has a third of its lifetime to succeed.
`madoguchi edge renew` stays the manual path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.settings import EdgeSettings
from protocol.backoff import Backoff
from provisioning.enrollment import sign_renewal
from provisioning.kiosk_identity import make_csr

log = structlog.get_logger(__name__)

MIN_SLEEP_S = 1.0


class RenewalError(RuntimeError):
    """The renewal did not happen; the message says why (no secrets, no personal data)."""


def current_certificate(cert_file: Path) -> x509.Certificate:
    """The kiosk's own certificate: the first in the file (the intermediate follows it)."""
    return x509.load_pem_x509_certificate(cert_file.read_bytes())


def _load_key(key_file: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_file} is not an EC key")
    return key


def due_in(cert: x509.Certificate, fraction: float, now: dt.datetime) -> float:
    """Seconds until less than `fraction` of the lifetime is left (0 or less: due now)."""
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return (cert.not_valid_after_utc - lifetime * fraction - now).total_seconds()


def _pending(path: Path) -> Path:
    return path.with_name(f".{path.name}.new")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o600)  # an existing file keeps its mode on open(): make sure


def install(cert_file: Path, key_file: Path, key: ec.EllipticCurvePrivateKey, chain: str) -> None:
    """Write the new pair beside the old, then rename the key and the certificate over the
    old ones. A crash between the two renames leaves the new certificate pending; `recover`
    finishes the swap at the next start."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(_pending(key_file), key_pem)
    _write_private(_pending(cert_file), chain.encode("ascii"))
    os.replace(_pending(key_file), key_file)
    os.replace(_pending(cert_file), cert_file)
    directory = os.open(cert_file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def recover(cert_file: Path, key_file: Path) -> bool:
    """Finish a swap a crash interrupted: a pending certificate that matches the key in
    place goes in; one that does not is thrown away. True if one went in."""
    pending = _pending(cert_file)
    if not pending.exists():
        return False
    try:
        matches = current_certificate(pending).public_key() == _load_key(key_file).public_key()
    except (OSError, ValueError):
        matches = False
    if matches:
        os.replace(pending, cert_file)
        log.warning("certificate_swap_completed")
        return True
    pending.unlink()
    return False


async def request_renewal(
    url: str, cert_file: Path, key_file: Path, *, client: httpx.AsyncClient | None = None
) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A new key and its certificate chain (PEM) from the control plane."""
    current = current_certificate(cert_file)
    kiosk_id = str(current.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    key, csr = make_csr(kiosk_id)
    signed_at = dt.datetime.now(dt.UTC).isoformat()
    body = {
        "certificate": current.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "csr": csr,
        "signed_at": signed_at,
        "signature": sign_renewal(_load_key(key_file), csr, signed_at),
    }
    try:
        async with httpx.AsyncClient(timeout=30) as own:
            response = await (client or own).post(f"{url.rstrip('/')}/api/enroll/renew", json=body)
    except httpx.HTTPError as exc:
        raise RenewalError(f"cannot reach the control plane ({type(exc).__name__})") from None
    if not response.is_success:
        try:
            detail = str(response.json().get("detail", ""))
        except (ValueError, AttributeError):
            detail = ""
        raise RenewalError(f"the control plane refused ({response.status_code}): {detail[:150]}")
    try:
        answer = response.json()
        chain = str(answer["certificate"]) + str(answer["chain"])
        issued = x509.load_pem_x509_certificate(str(answer["certificate"]).encode("ascii"))
    except (ValueError, KeyError, TypeError) as exc:
        unusable = f"the control plane's answer is unusable ({type(exc).__name__})"
        raise RenewalError(unusable) from None
    # Never install a certificate that is not for the key made here and this kiosk.
    names = issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if issued.public_key() != key.public_key() or [n.value for n in names] != [kiosk_id]:
        raise RenewalError("the control plane's certificate does not match the request")
    return key, chain


class CertificateRenewer:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        reconnect: Callable[[], None],
        wait_idle: Callable[[], Awaitable[None]],
        report_failure: Callable[[int, str, float], None],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if settings.control_plane_url is None:
            raise ValueError("renewal needs control_plane_url")
        self._settings = settings
        self._url = settings.control_plane_url
        self._reconnect = reconnect
        self._wait_idle = wait_idle
        self._report_failure = report_failure
        self._client = client
        self.renewals = 0
        self.failures = 0

    def recover(self) -> bool:
        return recover(self._settings.cert_file, self._settings.key_file)

    async def renew(self) -> x509.Certificate:
        """Renew now: new files in place, then a reconnect once no resident is served."""
        s = self._settings
        key, chain = await request_renewal(self._url, s.cert_file, s.key_file, client=self._client)
        install(s.cert_file, s.key_file, key, chain)
        cert = current_certificate(s.cert_file)
        self.renewals += 1
        log.info(
            "certificate_renewed",
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc.isoformat(),
        )
        await self._wait_idle()  # a reconnect would drop a call's signalling
        self._reconnect()
        return cert

    async def check(self, now: dt.datetime | None = None) -> float:
        """Renew if due; the seconds until the next look."""
        s = self._settings
        wait = due_in(
            current_certificate(s.cert_file), s.renew_when_left, now or dt.datetime.now(dt.UTC)
        )
        if wait <= 0:
            cert = await self.renew()
            wait = due_in(cert, s.renew_when_left, dt.datetime.now(dt.UTC))
            if wait <= 0:
                # Issued too short for the fraction: renewing again at once would loop.
                log.warning("certificate_lifetime_too_short", renew_when_left=s.renew_when_left)
                wait = s.renew_check_interval_s
        return min(s.renew_check_interval_s, max(wait, MIN_SLEEP_S))

    async def run(self) -> None:
        s = self._settings
        backoff = Backoff(minimum=s.renew_retry_min_s, maximum=s.renew_retry_max_s)
        while True:
            try:
                delay = await self.check()
                backoff.reset()
            except (RenewalError, OSError, ValueError) as exc:
                self.failures += 1
                delay = backoff.next_delay()
                reason = str(exc)[:200]
                log.warning("certificate_renewal_failed", error=reason, retry_in_s=round(delay, 1))
                self._report_failure(self.failures, reason, delay)
            await asyncio.sleep(delay)
