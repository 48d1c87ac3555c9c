"""`/api/kiosks`: the registry, for every staff role (no personal data in it); marking a
kiosk as a training kiosk is for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from cloud.audit import service as audit
from cloud.auth.models import Role, StaffUser
from cloud.deps import ALL_STAFF, DbSession, require_roles
from cloud.fleet import service
from cloud.fleet.models import Kiosk
from cloud.fleet.schemas import KioskRead, KioskTrainingIn

router = APIRouter(
    prefix="/api/kiosks", tags=["fleet"], dependencies=[Depends(require_roles(*ALL_STAFF))]
)
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]


@router.get("", response_model=list[KioskRead])
async def list_kiosks(db: DbSession) -> list[Kiosk]:
    return await service.list_kiosks(db=db)


@router.get("/{kiosk_id}", response_model=KioskRead)
async def get_kiosk(kiosk_id: str, db: DbSession) -> Kiosk:
    kiosk = await service.get_kiosk(db=db, kiosk_id=kiosk_id)
    if kiosk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no kiosk '{kiosk_id}' has reported yet")
    return kiosk


@router.put("/{kiosk_id}/training", response_model=KioskRead)
async def set_training(kiosk_id: str, body: KioskTrainingIn, db: DbSession, user: Admin) -> Kiosk:
    """Mark a kiosk as a training kiosk (or a real one again). A training kiosk's calls go
    only to operators in 研修モード and it never counts in uptime, reports, billing or alerts;
    a call already requested keeps the flag it was requested with."""
    kiosk = await service.set_training(db=db, kiosk_id=kiosk_id, training=body.training)
    if kiosk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no kiosk '{kiosk_id}' has reported yet")
    await audit.record(
        db=db,
        actor=user.username,
        action="kiosk.training_on" if body.training else "kiosk.training_off",
        target=kiosk_id,
    )
    return kiosk
