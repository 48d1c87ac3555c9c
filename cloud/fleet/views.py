"""`/api/kiosks`: the registry, for every staff role (no personal data in it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from cloud.deps import ALL_STAFF, DbSession, require_roles
from cloud.fleet import service
from cloud.fleet.models import Kiosk
from cloud.fleet.schemas import KioskRead

router = APIRouter(
    prefix="/api/kiosks", tags=["fleet"], dependencies=[Depends(require_roles(*ALL_STAFF))]
)


@router.get("", response_model=list[KioskRead])
async def list_kiosks(db: DbSession) -> list[Kiosk]:
    return await service.list_kiosks(db=db)


@router.get("/{kiosk_id}", response_model=KioskRead)
async def get_kiosk(kiosk_id: str, db: DbSession) -> Kiosk:
    kiosk = await service.get_kiosk(db=db, kiosk_id=kiosk_id)
    if kiosk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no kiosk '{kiosk_id}' has reported yet")
    return kiosk
