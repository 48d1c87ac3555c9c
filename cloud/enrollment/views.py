"""Enrollment endpoints.

- `POST /api/kiosks/{kiosk_id}/enrollment` (admin): a one-time token, shown once.
- `POST /api/enroll` (public: the token is the credential): CSR in, certificate out.
- `POST /api/enroll/renew` (public: signed with the current certificate's key).
- `POST /api/kiosks/{kiosk_id}/revoke`, `/decommission` (admin): CRL written, broker reloaded.
- `GET /api/kiosks/{kiosk_id}/certificates` (tech, admin); `POST /api/enrollment/crl` (admin,
  by hand: a background task re-signs the CRL before its nextUpdate anyway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, require_roles
from cloud.enrollment import service
from cloud.enrollment.crl_refresh import refreshing
from cloud.enrollment.settings import EnrollmentSettings, enrollment_settings
from protocol.v1.ids import ID_PATTERN
from provisioning.enrollment import MAX_CSR_CHARS, EnrollmentError, certificate_pem

# The lifespan keeps the CRL fresh in the background (cloud/enrollment/crl_refresh.py).
router = APIRouter(prefix="/api", tags=["enrollment"], lifespan=refreshing)
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Maintainer = Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))]
Settings = Annotated[EnrollmentSettings, Depends(enrollment_settings)]
KioskId = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]


class TokenCreated(BaseModel):
    kiosk_id: str
    token: str = Field(description="Shown once: only its SHA-256 is stored")
    expires_at: datetime


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kiosk_id: str = Field(pattern=ID_PATTERN, max_length=63)
    token: str = Field(min_length=16, max_length=128)
    csr: str = Field(min_length=1, max_length=MAX_CSR_CHARS, description="PEM, EC P-256")


class RenewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(min_length=1, max_length=8 * MAX_CSR_CHARS)
    csr: str = Field(min_length=1, max_length=MAX_CSR_CHARS)
    signed_at: str = Field(min_length=1, max_length=64)
    signature: str = Field(min_length=1, max_length=256, description="base64 ECDSA-SHA256")


class IssuedCertificate(BaseModel):
    kiosk_id: str
    serial: str
    not_after: datetime
    certificate: str = Field(description="The kiosk's certificate (PEM)")
    chain: str = Field(description="The intermediate CA (PEM): send it after the certificate")
    ca: str = Field(description="The fleet root CA (PEM): the trust anchor")


class RevocationRead(BaseModel):
    kiosk_id: str
    state: str
    revoked: list[str]
    crl_file: str | None
    broker_reload: str


class CertificateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    serial: str
    kiosk_id: str
    issued_at: datetime
    not_after: datetime
    how: str
    revoked_at: datetime | None
    revoked_by: str | None


def _unavailable(exc: service.NotConfiguredError) -> HTTPException:
    # 409 rather than 503: a setting to fix, not a passing fault (and no 5xx for a client).
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _answer(issued: service.Issued) -> IssuedCertificate:
    return IssuedCertificate(
        kiosk_id=issued.kiosk_id,
        serial=service.serial_hex(issued.certificate),
        not_after=issued.certificate.not_valid_after_utc,
        certificate=certificate_pem(issued.certificate),
        chain=certificate_pem(issued.ca.certificate),
        ca=certificate_pem(issued.ca.root),
    )


@router.post(
    "/kiosks/{kiosk_id}/enrollment",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
)
async def create_token(
    kiosk_id: KioskId, user: Admin, db: DbSession, settings: Settings
) -> TokenCreated:
    try:
        token, row = await service.create_token(
            db=db, kiosk_id=kiosk_id, created_by=user.username, ttl=settings.token_ttl
        )
    except EnrollmentError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return TokenCreated(kiosk_id=kiosk_id, token=token, expires_at=row.expires_at)


@router.post("/enroll", response_model=IssuedCertificate, status_code=status.HTTP_201_CREATED)
async def enroll(body: EnrollRequest, db: DbSession, settings: Settings) -> IssuedCertificate:
    try:
        issued = await service.enroll(
            db=db, settings=settings, kiosk_id=body.kiosk_id, token=body.token, csr_pem=body.csr
        )
    except service.NotConfiguredError as exc:
        raise _unavailable(exc) from exc
    except service.TokenRefusedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except EnrollmentError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return _answer(issued)


@router.post("/enroll/renew", response_model=IssuedCertificate, status_code=201)
async def renew(body: RenewRequest, db: DbSession, settings: Settings) -> IssuedCertificate:
    try:
        issued = await service.renew(
            db=db,
            settings=settings,
            current_pem=body.certificate,
            csr_pem=body.csr,
            signed_at=body.signed_at,
            signature=body.signature,
        )
    except service.NotConfiguredError as exc:
        raise _unavailable(exc) from exc
    except EnrollmentError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    return _answer(issued)


async def _revoke(
    kiosk_id: str, user: StaffUser, db: DbSession, settings: EnrollmentSettings, *, final: bool
) -> RevocationRead:
    try:
        done = await service.revoke(
            db=db, settings=settings, kiosk_id=kiosk_id, by=user.username, decommission=final
        )
    except service.NotConfiguredError as exc:
        raise _unavailable(exc) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return RevocationRead(
        kiosk_id=done.kiosk_id,
        state=done.state,
        revoked=done.revoked,
        crl_file=done.crl_file,
        broker_reload=done.broker_reload,
    )


@router.post("/kiosks/{kiosk_id}/revoke", response_model=RevocationRead)
async def revoke(
    kiosk_id: KioskId, user: Admin, db: DbSession, settings: Settings
) -> RevocationRead:
    return await _revoke(kiosk_id, user, db, settings, final=False)


@router.post("/kiosks/{kiosk_id}/decommission", response_model=RevocationRead)
async def decommission(
    kiosk_id: KioskId, user: Admin, db: DbSession, settings: Settings
) -> RevocationRead:
    return await _revoke(kiosk_id, user, db, settings, final=True)


@router.get("/kiosks/{kiosk_id}/certificates", response_model=list[CertificateRead])
async def list_certificates(
    kiosk_id: KioskId, _user: Maintainer, db: DbSession
) -> list[CertificateRead]:
    rows = await service.certificates(db=db, kiosk_id=kiosk_id)
    return [CertificateRead.model_validate(row) for row in rows]


@router.post("/enrollment/crl", response_model=dict[str, str | None])
async def refresh_crl(user: Admin, db: DbSession, settings: Settings) -> dict[str, str | None]:
    """Sign the CRL again (before it expires: run from a timer) and reload the broker."""
    try:
        path = await service.write_current_crl(db=db, settings=settings)
    except service.NotConfiguredError as exc:
        raise _unavailable(exc) from exc
    reloaded = await service.reload_broker(settings) if path is not None else "no CRL file"
    return {"crl_file": str(path) if path else None, "broker_reload": reloaded, "by": user.username}
