"""Connection tests of a pop-up site, and the probe the kiosks measure against.

- `POST /api/sites/{site_id}/checks` (tech, admin): send the test to the site's kiosks.
- `GET /api/sites/{site_id}/checks[?run_id=]` (tech, admin): per-kiosk reports and verdict.
- `GET|POST /api/kiosk-probe` (public: the run's probe token is the credential): random
  bytes down, bytes up, and the server's receive/send times for the kiosk's measurements.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, get_args
from uuid import UUID

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)

from cloud.auth.models import Role, StaffUser
from cloud.deps import DbSession, require_roles
from cloud.site_checks import sender, service
from cloud.site_checks.schemas import ProbeUpload, SiteCheckCreate, SiteCheckRead, SiteCheckStarted
from cloud.site_checks.settings import SiteCheckSettings, site_check_settings
from protocol.v1.ids import ID_PATTERN
from protocol.v1.messages import PeripheralName

router = APIRouter(prefix="/api", tags=["site checks"])
Maintainer = Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))]
Settings = Annotated[SiteCheckSettings, Depends(site_check_settings)]
SiteId = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]

MAX_PROBE_BYTES = 16_000_000  # above what any limit asks (edge: throughput_bytes ≤ 16 MB)
RECEIVED_HEADER = "X-Probe-Received-At"
SENT_HEADER = "X-Probe-Sent-At"


@router.post(
    "/sites/{site_id}/checks", response_model=SiteCheckStarted, status_code=status.HTTP_202_ACCEPTED
)
async def start(
    site_id: SiteId,
    user: Maintainer,
    db: DbSession,
    request: Request,
    settings: Settings,
    body: SiteCheckCreate | None = None,
) -> SiteCheckStarted:
    """Send the connection test to every kiosk of the site; answers with the run's id."""
    # 409 for what a setting must fix (as enrollment does); 503 only for a passing fault.
    if settings.public_url is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "the control plane's public URL is not set (MADOGUCHI_CLOUD_SITE_CHECKS__PUBLIC_URL): "
            "kiosks would not know where to measure",
        )
    link = request.app.state.consumer
    if link is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "this control plane runs without the broker (MADOGUCHI_CLOUD_MQTT__ENABLED)",
        )
    if not link.connected.is_set():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the control plane is not connected to the broker"
        )
    kiosks = await service.site_kiosks(db=db, site_id=site_id)
    if not kiosks:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no kiosk of site '{site_id}' has reported yet"
        )
    wanted = body.peripherals if body is not None and body.peripherals is not None else None
    peripherals: list[str] = (
        list(dict.fromkeys(wanted)) if wanted is not None else list(get_args(PeripheralName))
    )
    run, dispatches = await service.start_run(
        db=db,
        site_id=site_id,
        kiosk_ids=kiosks,
        requested_by=user.username,
        peripherals=peripherals,
        public_url=settings.public_url,
        turn=request.app.state.settings.calls.turn,
        answer_timeout=timedelta(seconds=settings.answer_timeout_s),
        now=datetime.now(UTC),
    )
    await db.commit()  # known before any kiosk can answer
    unsent = await sender.publish(link, dispatches)
    if unsent:
        await service.mark_unsent(
            db=db, command_ids=unsent, reason="not sent: the broker connection was lost"
        )
    return SiteCheckStarted(
        run_id=run.run_id, site_id=site_id, kiosks=kiosks, deadline=run.deadline
    )


@router.get("/sites/{site_id}/checks", response_model=SiteCheckRead)
async def result(
    site_id: SiteId,
    _user: Maintainer,
    db: DbSession,
    run_id: Annotated[UUID | None, Query(description="A run; default the newest")] = None,
) -> SiteCheckRead:
    """A run's per-kiosk reports and verdict (the site's newest run by default)."""
    run = await service.get_run(db=db, site_id=site_id, run_id=str(run_id) if run_id else None)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no connection test of site '{site_id}'")
    outcome = await service.run_result(db=db, run=run, now=datetime.now(UTC))
    return SiteCheckRead.model_validate(
        {**asdict(outcome), "kiosks": [asdict(k) for k in outcome.kiosks]}
    )


# --- the probe ----------------------------------------------------------------------------


def received_at() -> float:
    """The server's receive time, taken before anything else is done with the request."""
    return time.time()


async def probe_kiosk(
    db: DbSession,
    authorization: Annotated[str | None, Header()] = None,
    x_probe_kiosk: Annotated[str | None, Header(max_length=63)] = None,
) -> str:
    """The kiosk whose run's probe token this is (bound to that kiosk, until the deadline)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or not x_probe_kiosk:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a probe token (Authorization: Bearer) and the kiosk id (X-Probe-Kiosk) are needed",
        )
    try:
        return await service.probe_kiosk(
            db=db, token=token[:128], kiosk_id=x_probe_kiosk, now=datetime.now(UTC)
        )
    except service.ProbeRefusedError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None


ReceivedAt = Annotated[float, Depends(received_at)]
ProbeKiosk = Annotated[str, Depends(probe_kiosk)]


def _stamps(received: float) -> dict[str, str]:
    return {
        RECEIVED_HEADER: f"{received:.6f}",
        SENT_HEADER: f"{time.time():.6f}",
        "Cache-Control": "no-store",
    }


@router.get("/kiosk-probe", response_class=Response)
async def probe_download(
    received: ReceivedAt,
    _kiosk: ProbeKiosk,
    size: Annotated[int, Query(alias="bytes", ge=0, le=MAX_PROBE_BYTES)] = 0,
) -> Response:
    """`bytes` random bytes (incompressible), with the server's receive and send times."""
    return Response(
        os.urandom(size), media_type="application/octet-stream", headers=_stamps(received)
    )


@router.post("/kiosk-probe", response_model=ProbeUpload)
async def probe_upload(received: ReceivedAt, _kiosk: ProbeKiosk, request: Request) -> Response:
    """Counts the body (at most 16 MB, then refused) and answers with the timestamps."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PROBE_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_PROBE_BYTES} bytes")
    counted = 0
    async for chunk in request.stream():
        counted += len(chunk)
        if counted > MAX_PROBE_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_PROBE_BYTES} bytes"
            )
    headers = _stamps(received)
    body = ProbeUpload(
        received_bytes=counted, received_at=received, sent_at=float(headers[SENT_HEADER])
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
