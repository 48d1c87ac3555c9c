"""Enrollment tokens, issuing, renewal and revocation. Every change is audited in the same
transaction as the change itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.enrollment.models import EnrollmentToken, IdentityState, KioskCertificate, KioskIdentity
from cloud.enrollment.settings import EnrollmentSettings
from provisioning.ca import FleetCA
from provisioning.enrollment import (
    EnrollmentError,
    check_csr,
    check_renewal,
    hash_token,
    new_token,
    write_crl,
)


class TokenRefusedError(EnrollmentError):
    """The enrollment token is unknown, used, expired or for another kiosk."""


class NotConfiguredError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Issued:
    kiosk_id: str
    certificate: x509.Certificate
    ca: FleetCA


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def load_ca(settings: EnrollmentSettings) -> FleetCA:
    if settings.ca_dir is None:
        raise NotConfiguredError(
            "enrollment is not configured: set MADOGUCHI_ENROLLMENT_CA_DIR to the intermediate CA"
        )
    return FleetCA.load(settings.ca_dir)


async def _identity(db: AsyncSession, kiosk_id: str) -> KioskIdentity | None:
    return await db.get(KioskIdentity, kiosk_id, with_for_update=True)


async def _set_state(
    db: AsyncSession, kiosk_id: str, state: IdentityState, by: str, now: datetime
) -> None:
    identity = await _identity(db, kiosk_id)
    if identity is None:
        db.add(KioskIdentity(kiosk_id=kiosk_id, state=state, changed_at=now, changed_by=by))
    else:
        identity.state, identity.changed_at, identity.changed_by = state, now, by
    await db.flush()


async def create_token(
    *, db: AsyncSession, kiosk_id: str, created_by: str, ttl: timedelta
) -> tuple[str, EnrollmentToken]:
    """A one-time token for `kiosk_id`; the caller shows it once, only its hash is kept."""
    identity = await _identity(db, kiosk_id)
    if identity is not None and identity.state == IdentityState.DECOMMISSIONED:
        raise EnrollmentError(f"kiosk {kiosk_id} is decommissioned")
    now = datetime.now(UTC)
    token = new_token()
    row = EnrollmentToken(
        kiosk_id=kiosk_id,
        token_hash=hash_token(token),
        created_by=created_by,
        created_at=now,
        expires_at=now + ttl,
    )
    db.add(row)
    if identity is None:
        db.add(
            KioskIdentity(
                kiosk_id=kiosk_id,
                state=IdentityState.PENDING,
                changed_at=now,
                changed_by=created_by,
            )
        )
    await db.flush()
    await record(
        db=db,
        actor=created_by,
        action="enrollment.token",
        target=f"kiosk:{kiosk_id}",
        detail={"token_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    return token, row


async def _store(
    db: AsyncSession, kiosk_id: str, cert: x509.Certificate, how: str, now: datetime
) -> None:
    db.add(
        KioskCertificate(
            serial=serial_hex(cert),
            kiosk_id=kiosk_id,
            issued_at=now,
            not_after=cert.not_valid_after_utc,
            how=how,
        )
    )
    await _set_state(db, kiosk_id, IdentityState.ENROLLED, f"kiosk:{kiosk_id}", now)


async def enroll(
    *,
    db: AsyncSession,
    settings: EnrollmentSettings,
    kiosk_id: str,
    token: str,
    csr_pem: str,
) -> Issued:
    """Check the token (known, for this kiosk, unused, unexpired) and the CSR, use the token
    up and sign the certificate. A refused CSR does not use the token up."""
    ca = load_ca(settings)
    now = datetime.now(UTC)
    row = await db.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == hash_token(token))
    )
    if row is None:
        raise TokenRefusedError("unknown enrollment token")
    if row.kiosk_id != kiosk_id:
        raise TokenRefusedError("this enrollment token was issued for another kiosk")
    if row.used_at is not None:
        raise TokenRefusedError("this enrollment token has already been used")
    if row.expires_at <= now:
        raise TokenRefusedError("this enrollment token has expired: ask for a new one")
    identity = await _identity(db, kiosk_id)
    if identity is not None and identity.state == IdentityState.DECOMMISSIONED:
        raise TokenRefusedError(f"kiosk {kiosk_id} is decommissioned")
    csr = check_csr(csr_pem, kiosk_id)
    # Use the token up; the condition makes a concurrent second use find nothing to update.
    used = await db.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == row.id, EnrollmentToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:
        raise TokenRefusedError("this enrollment token has already been used")
    cert = ca.sign_client_csr(csr, common_name=kiosk_id, days=settings.cert_days)
    await db.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == row.id)
        .values(certificate_serial=serial_hex(cert))
        .execution_options(synchronize_session=False)
    )
    await _store(db, kiosk_id, cert, "enroll", now)
    await record(
        db=db,
        actor=f"kiosk:{kiosk_id}",
        action="enrollment.enroll",
        target=f"kiosk:{kiosk_id}",
        detail={
            "token_id": row.id,
            "serial": serial_hex(cert),
            "not_after": cert.not_valid_after_utc.isoformat(),
        },
    )
    return Issued(kiosk_id, cert, ca)


async def renew(
    *,
    db: AsyncSession,
    settings: EnrollmentSettings,
    current_pem: str,
    csr_pem: str,
    signed_at: str,
    signature: str,
) -> Issued:
    """A new certificate for a kiosk that proves it holds a current, unrevoked certificate's
    key. The old certificate stays valid until it expires (the kiosk switches over)."""
    ca = load_ca(settings)
    now = datetime.now(UTC)
    current, csr = check_renewal(
        ca=ca,
        current_pem=current_pem,
        csr_pem=csr_pem,
        signed_at=signed_at,
        signature=signature,
        now=now,
        skew=settings.renew_skew,
    )
    known = await db.get(KioskCertificate, serial_hex(current))
    kiosk_id = str(csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
    if known is None or known.kiosk_id != kiosk_id:
        raise EnrollmentError("this certificate was not issued by enrollment")
    if known.revoked_at is not None:
        raise EnrollmentError("this certificate has been revoked")
    identity = await _identity(db, kiosk_id)
    if identity is None or identity.state != IdentityState.ENROLLED:
        raise EnrollmentError(f"kiosk {kiosk_id} is not enrolled")
    cert = ca.sign_client_csr(csr, common_name=kiosk_id, days=settings.cert_days)
    await _store(db, kiosk_id, cert, "renew", now)
    await record(
        db=db,
        actor=f"kiosk:{kiosk_id}",
        action="enrollment.renew",
        target=f"kiosk:{kiosk_id}",
        detail={
            "previous_serial": known.serial,
            "serial": serial_hex(cert),
            "not_after": cert.not_valid_after_utc.isoformat(),
        },
    )
    return Issued(kiosk_id, cert, ca)


@dataclass(frozen=True, slots=True)
class Revocation:
    kiosk_id: str
    state: str
    revoked: list[str]
    crl_file: str | None
    broker_reload: str


async def write_current_crl(
    *, db: AsyncSession, settings: EnrollmentSettings, ca: FleetCA | None = None
) -> Path | None:
    """Sign a CRL of every revoked certificate that has not expired yet and write it where
    the broker reads it (nothing to write without `crl_file`)."""
    ca = ca or load_ca(settings)
    if settings.crl_file is None:
        return None
    now = datetime.now(UTC)
    rows = await db.scalars(
        select(KioskCertificate).where(
            KioskCertificate.revoked_at.is_not(None), KioskCertificate.not_after > now
        )
    )
    revoked = [(int(row.serial, 16), row.revoked_at or now) for row in rows]
    # A CRL number only has to grow: the time in milliseconds does, without shared state.
    crl = ca.sign_crl(revoked, number=int(now.timestamp() * 1000), days=settings.crl_days)
    write_crl(settings.crl_file, crl)
    return settings.crl_file


async def reload_broker(settings: EnrollmentSettings) -> str:
    """Run the configured command that makes the broker read the new CRL."""
    if not settings.broker_reload:
        return "not configured"
    try:
        process = await asyncio.create_subprocess_exec(
            *settings.broker_reload,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    except (OSError, TimeoutError) as exc:
        return f"failed: {exc}"
    if process.returncode:
        return f"failed ({process.returncode}): {output.decode(errors='replace')[-300:]}"
    return "done"


async def revoke(
    *,
    db: AsyncSession,
    settings: EnrollmentSettings,
    kiosk_id: str,
    by: str,
    decommission: bool = False,
) -> Revocation:
    """Revoke every certificate of the kiosk, cancel its unused tokens, write the CRL and
    reload the broker. Decommissioning does the same and refuses the kiosk for good."""
    ca = load_ca(settings)
    now = datetime.now(UTC)
    identity = await _identity(db, kiosk_id)
    certificates = list(
        await db.scalars(select(KioskCertificate).where(KioskCertificate.kiosk_id == kiosk_id))
    )
    if identity is None and not certificates:
        raise LookupError(f"kiosk {kiosk_id} has no enrollment")
    revoked = []
    for cert in certificates:
        if cert.revoked_at is None:
            cert.revoked_at, cert.revoked_by = now, by
            revoked.append(cert.serial)
    await db.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.kiosk_id == kiosk_id, EnrollmentToken.used_at.is_(None))
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    state = IdentityState.DECOMMISSIONED if decommission else IdentityState.REVOKED
    if identity is not None and identity.state == IdentityState.DECOMMISSIONED:
        state = IdentityState.DECOMMISSIONED
    await _set_state(db, kiosk_id, state, by, now)
    crl_file = await write_current_crl(db=db, settings=settings, ca=ca)
    reloaded = await reload_broker(settings) if crl_file is not None else "no CRL file"
    await record(
        db=db,
        actor=by,
        action="enrollment.decommission" if decommission else "enrollment.revoke",
        target=f"kiosk:{kiosk_id}",
        detail={"serials": revoked, "broker_reload": reloaded},
    )
    return Revocation(
        kiosk_id=kiosk_id,
        state=state,
        revoked=revoked,
        crl_file=str(crl_file) if crl_file else None,
        broker_reload=reloaded,
    )


async def certificates(*, db: AsyncSession, kiosk_id: str) -> list[KioskCertificate]:
    return list(
        await db.scalars(
            select(KioskCertificate)
            .where(KioskCertificate.kiosk_id == kiosk_id)
            .order_by(KioskCertificate.issued_at.desc())
        )
    )
