"""Enrollment on the kiosk's side: the key is made here and never leaves the box.

`enroll` sends a CSR with a one-time token; `renew` sends a CSR for a new key, signed with the
current certificate's key (proof of possession), before the certificate expires. Both write
into one directory: `kiosk.key` (0600), `kiosk.crt` (the kiosk's certificate, then the
intermediate: the chain a TLS client presents) and `ca.crt` (the fleet root: trust anchor).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.enrollment import sign_renewal

KEY_FILE = "kiosk.key"
CERT_FILE = "kiosk.crt"
CA_FILE = "ca.crt"


class EnrollFailedError(RuntimeError):
    """The control plane refused or could not be reached; the message says why."""


@dataclass(frozen=True, slots=True)
class KioskIdentity:
    directory: Path

    @property
    def key_path(self) -> Path:
        return self.directory / KEY_FILE

    @property
    def cert_path(self) -> Path:
        return self.directory / CERT_FILE

    @property
    def ca_path(self) -> Path:
        return self.directory / CA_FILE

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.key_path} is not an EC key")
        return key


def make_csr(kiosk_id: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A new P-256 key and a CSR for it whose common name is the kiosk id."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kiosk_id)]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def needs_renewal(
    cert: x509.Certificate, *, now: dt.datetime | None = None, fraction: float = 1 / 3
) -> bool:
    """True once less than `fraction` of the certificate's lifetime is left."""
    now = now or dt.datetime.now(dt.UTC)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now < lifetime * fraction


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode on open(): make sure


def _install(
    out_dir: Path, key: ec.EllipticCurvePrivateKey, answer: dict[str, Any]
) -> KioskIdentity:
    """Write the new files next to the old ones, then swap them in with renames: a reader
    sees the old pair or the new one (the key is renamed first, the certificate right after)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    identity = KioskIdentity(out_dir)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = (str(answer["certificate"]) + str(answer["chain"])).encode("ascii")
    new_key, new_cert, new_ca = (
        out_dir / f".{name}.new" for name in (KEY_FILE, CERT_FILE, CA_FILE)
    )
    _write_private(new_key, key_pem)
    new_cert.write_bytes(cert_pem)
    new_ca.write_bytes(str(answer["ca"]).encode("ascii"))
    os.replace(new_ca, identity.ca_path)
    os.replace(new_key, identity.key_path)
    os.replace(new_cert, identity.cert_path)
    return identity


async def _post(
    url: str, path: str, body: dict[str, str], client: httpx.AsyncClient | None
) -> dict[str, Any]:
    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(f"{url.rstrip('/')}{path}", json=body, timeout=30)

    try:
        if client is not None:
            response = await send(client)
        else:
            async with httpx.AsyncClient() as http:
                response = await send(http)
    except httpx.HTTPError as exc:
        raise EnrollFailedError(f"cannot reach the control plane at {url}: {exc}") from exc
    if not response.is_success:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        raise EnrollFailedError(
            f"the control plane refused ({response.status_code}): {detail or response.text[:200]}"
        )
    answer: dict[str, Any] = response.json()
    return answer


async def enroll(
    url: str,
    token: str,
    kiosk_id: str,
    out_dir: Path,
    *,
    client: httpx.AsyncClient | None = None,
) -> KioskIdentity:
    """Make a key, send its CSR with the one-time token, write key, certificate and CA."""
    key, csr = make_csr(kiosk_id)
    answer = await _post(
        url, "/api/enroll", {"kiosk_id": kiosk_id, "token": token, "csr": csr}, client
    )
    return _install(out_dir, key, answer)


async def renew(
    url: str, directory: Path, *, client: httpx.AsyncClient | None = None
) -> KioskIdentity:
    """Renew the certificate in `directory` with a new key: the request is signed with the
    current key, so it needs no token. The old certificate stays valid until it expires; the
    agent reconnects with the new one."""
    current = KioskIdentity(directory)
    cert = current.certificate()
    kiosk_id = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    key, csr = make_csr(kiosk_id)
    signed_at = dt.datetime.now(dt.UTC).isoformat()
    body = {
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "csr": csr,
        "signed_at": signed_at,
        "signature": sign_renewal(current.key(), csr, signed_at),
    }
    answer = await _post(url, "/api/enroll/renew", body, client)
    return _install(directory, key, answer)
