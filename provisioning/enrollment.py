"""Enrollment on the control plane's side: tokens, CSR checks, renewal proofs and the CRL.

Pure functions (no database): `cloud/enrollment/` stores tokens and certificates and calls
these. The kiosk's side is `provisioning/kiosk_identity.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocol.v1.ids import is_valid_id
from provisioning.ca import FleetCA

MAX_CSR_CHARS = 4000
"""A P-256 CSR in PEM is about 500 characters; anything much larger is not one of ours."""


class EnrollmentError(ValueError):
    """A request the control plane refuses; the message says why (safe to show)."""


def new_token() -> str:
    """A one-time enrollment token (256 bits, URL-safe). Only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_csr(pem: str, kiosk_id: str) -> x509.CertificateSigningRequest:
    """The CSR, if it is one the fleet CA may sign for `kiosk_id`: PEM, a valid self-signature
    (the sender holds the key), an EC P-256 key, and a subject whose only common name is the
    kiosk id. Requested extensions are ignored (never copied into the certificate)."""
    if not is_valid_id(kiosk_id):
        raise EnrollmentError("invalid kiosk id")
    if len(pem) > MAX_CSR_CHARS:
        raise EnrollmentError("the CSR is too large")
    try:
        csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise EnrollmentError("not a PEM certificate signing request") from exc
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError):  # an unsupported signature algorithm
        valid = False
    if not valid:
        raise EnrollmentError("the CSR's signature is not valid")
    try:
        key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise EnrollmentError("the CSR's public key cannot be read") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise EnrollmentError("the key must be EC P-256 (secp256r1)")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != kiosk_id:
        raise EnrollmentError(f"the CSR's common name must be the kiosk id {kiosk_id!r}")
    return csr


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# --- Renewal: proof of possession of the current certificate's key ----------------------


def renewal_message(csr_pem: str, signed_at: str) -> bytes:
    """What the kiosk signs with its current key to renew: the new CSR and the time."""
    return b"madoguchi-renew\n" + signed_at.encode("ascii") + b"\n" + csr_pem.encode("ascii")


def sign_renewal(key: ec.EllipticCurvePrivateKey, csr_pem: str, signed_at: str) -> str:
    signature = key.sign(renewal_message(csr_pem, signed_at), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def check_renewal(
    *,
    ca: FleetCA,
    current_pem: str,
    csr_pem: str,
    signed_at: str,
    signature: str,
    now: dt.datetime,
    skew: dt.timedelta,
) -> tuple[x509.Certificate, x509.CertificateSigningRequest]:
    """The kiosk's current certificate and its new CSR, if the certificate was issued by `ca`,
    is within its validity, and its key signed (new CSR, time) less than `skew` ago. Whether
    the certificate is revoked is the caller's question (the database knows)."""
    if len(current_pem) > 8 * MAX_CSR_CHARS:
        raise EnrollmentError("the certificate is too large")
    try:
        current = x509.load_pem_x509_certificate(current_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise EnrollmentError("not a PEM certificate") from exc
    try:
        current.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise EnrollmentError("the certificate was not issued by this fleet's CA") from exc
    if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
        raise EnrollmentError("the certificate has expired: enroll again with a new token")
    names = current.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    kiosk_id = str(names[0].value) if len(names) == 1 else ""
    csr = check_csr(csr_pem, kiosk_id)
    try:
        when = dt.datetime.fromisoformat(signed_at)
    except ValueError as exc:
        raise EnrollmentError("signed_at is not an ISO 8601 time") from exc
    if when.tzinfo is None or abs(now - when) > skew:
        raise EnrollmentError("the renewal request is too old or from the future (clock?)")
    public_key = current.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise EnrollmentError("the certificate's key is not an EC key")
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True),
            renewal_message(csr_pem, signed_at),
            ec.ECDSA(hashes.SHA256()),
        )
    except (ValueError, InvalidSignature) as exc:
        raise EnrollmentError("the renewal is not signed by the certificate's key") from exc
    if csr.public_key() == public_key:
        raise EnrollmentError("renewal needs a new key")
    return current, csr


# --- Revocation -------------------------------------------------------------------------


def write_crl(path: Path, crl: x509.CertificateRevocationList) -> None:
    """Replace the broker's CRL file atomically (the broker never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(crl.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)
