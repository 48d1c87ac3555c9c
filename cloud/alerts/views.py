"""`/api/alerts`: techs and admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cloud.alerts import service
from cloud.alerts.models import Alert
from cloud.alerts.schemas import AlertRead
from cloud.auth.models import Role
from cloud.deps import DbSession, require_roles

router = APIRouter(
    prefix="/api/alerts",
    tags=["alerts"],
    dependencies=[Depends(require_roles(Role.TECH, Role.ADMIN))],
)


@router.get("", response_model=list[AlertRead])
async def alerts(db: DbSession, only_open: bool = True) -> list[Alert]:
    return await service.list_alerts(db=db, only_open=only_open)
