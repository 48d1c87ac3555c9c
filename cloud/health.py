"""`/healthz` (public, for load balancers) and `/metrics` (tech and admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from cloud.auth.models import Role, StaffUser
from cloud.deps import require_roles

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Says only whether the parts answer; nothing about kiosks or staff."""
    database_ok = True
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        database_ok = False
    consumer = request.app.state.consumer
    broker = (
        "disabled"
        if consumer is None
        else ("connected" if consumer.connected.is_set() else "disconnected")
    )
    healthy = database_ok and broker != "disconnected"
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "database": database_ok, "broker": broker},
        status_code=200 if healthy else 503,
    )


# Metrics name kiosks and counts; keep them behind the maintenance roles.
MetricsReader = Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))]


@router.get("/metrics")
async def metrics(request: Request, _reader: MetricsReader) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
