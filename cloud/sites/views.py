"""`/api/sites`: register a site from its file, walk it through its lifecycle, read it.

- `POST /api/sites` (admin): validate the file, register site and kiosks, issue tokens.
- `GET /api/sites`, `GET /api/sites/{site_id}` (tech, admin): state, kiosks, history.
- `POST /api/sites/{site_id}/provisioned|checked|open|close` (tech, admin).
- `POST /api/sites/{site_id}/decommission` (admin).

A step the site's state does not allow answers 409 with a sentence saying why.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.deps import DbSession, Settings, require_roles
from cloud.enrollment import service as enrollment
from cloud.enrollment.models import KioskIdentity
from cloud.enrollment.settings import EnrollmentSettings, enrollment_settings
from cloud.fleet.models import Kiosk
from cloud.sites import service
from cloud.sites.models import Site, SiteKiosk
from cloud.sites.schemas import (
    IssuedToken,
    SiteClosed,
    SiteCreate,
    SiteCreated,
    SiteEventRead,
    SiteKioskRead,
    SiteRead,
    SiteSummary,
)
from protocol.v1.ids import ID_PATTERN
from provisioning.sites import SiteFileError, parse_site_data

router = APIRouter(prefix="/api/sites", tags=["sites"])
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Maintainer = Annotated[StaffUser, Depends(require_roles(Role.TECH, Role.ADMIN))]
Enrollment = Annotated[EnrollmentSettings, Depends(enrollment_settings)]
SiteId = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]
POLL_S = 0.2


async def _read(db: AsyncSession, site: Site) -> SiteRead:
    waiting = set(await service.unenrolled(db=db, site_id=site.site_id))
    kiosks = []
    for kiosk_id in await service.kiosk_ids(db=db, site_id=site.site_id):
        link = await db.get(SiteKiosk, kiosk_id)
        identity = await db.get(KioskIdentity, kiosk_id)
        fleet = await db.get(Kiosk, kiosk_id)
        kiosks.append(
            SiteKioskRead(
                kiosk_id=kiosk_id,
                hostname=link.hostname if link else "",
                enrolled=kiosk_id not in waiting,
                identity=identity.state if identity else None,
                status=fleet.status if fleet else None,
            )
        )
    events = await service.history(db=db, site_id=site.site_id)
    return SiteRead(
        site_id=site.site_id,
        name=site.name,
        kind=site.kind,
        state=site.state,
        state_changed_at=site.state_changed_at,
        created_by=site.created_by,
        created_at=site.created_at,
        certificates_revoked_at=site.revoked_at,
        definition=site.definition,
        kiosks=kiosks,
        history=[SiteEventRead.model_validate(e) for e in events],
    )


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, LookupError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@router.post("", response_model=SiteCreated, status_code=status.HTTP_201_CREATED)
async def create_site(
    body: SiteCreate, user: Admin, db: DbSession, settings: Enrollment
) -> SiteCreated:
    try:
        site_file = parse_site_data(body.definition, FilePath(body.file_name))
    except SiteFileError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from None
    try:
        created = await service.create(
            db=db, site=site_file, by=user.username, token_ttl=settings.token_ttl
        )
    except service.SiteConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return SiteCreated(
        site=await _read(db, created.site),
        tokens=[
            IssuedToken(kiosk_id=kiosk_id, token=token, expires_at=expires)
            for kiosk_id, (token, expires) in created.tokens.items()
        ],
    )


@router.get("", response_model=list[SiteSummary])
async def list_sites(_user: Maintainer, db: DbSession) -> list[Site]:
    return await service.list_sites(db=db)


@router.get("/{site_id}", response_model=SiteRead)
async def get_site(site_id: SiteId, _user: Maintainer, db: DbSession) -> SiteRead:
    site = await service.get_site(db=db, site_id=site_id)
    if site is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site '{site_id}'")
    return await _read(db, site)


@router.post("/{site_id}/provisioned", response_model=SiteRead)
async def mark_provisioned(site_id: SiteId, user: Maintainer, db: DbSession) -> SiteRead:
    try:
        site = await service.mark_provisioned(db=db, site_id=site_id, by=user.username)
    except (LookupError, service.TransitionRefusedError) as exc:
        raise _refused(exc) from None
    return await _read(db, site)


@router.post("/{site_id}/checked", response_model=SiteRead)
async def mark_checked(
    site_id: SiteId, user: Maintainer, db: DbSession, settings: Settings
) -> SiteRead:
    try:
        site = await service.mark_checked(
            db=db, site_id=site_id, by=user.username, max_age=settings.sites.check_max_age
        )
    except (LookupError, service.TransitionRefusedError) as exc:
        raise _refused(exc) from None
    return await _read(db, site)


@router.post("/{site_id}/open", response_model=SiteRead)
async def open_site(
    site_id: SiteId, user: Maintainer, db: DbSession, settings: Settings
) -> SiteRead:
    try:
        site = await service.open_site(
            db=db, site_id=site_id, by=user.username, max_age=settings.sites.check_max_age
        )
    except (LookupError, service.TransitionRefusedError) as exc:
        raise _refused(exc) from None
    return await _read(db, site)


@router.post("/{site_id}/close", response_model=SiteClosed)
async def close_site(
    site_id: SiteId,
    user: Maintainer,
    settings: Settings,
    enroll: Enrollment,
    request: Request,
) -> SiteClosed:
    """Stop the calls, have every kiosk wipe its session data, then revoke the kiosks'
    certificates (after the wipe command left, so that a kiosk still gets it). Three
    transactions of its own: the closing must be visible to routing and the dispatcher
    while the revocation waits."""
    sessions = request.app.state.sessions
    try:
        enrollment.load_ca(enroll)  # refuse before anything changes, not half-way
        async with transaction(sessions) as db:
            _site, commands = await service.begin_close(db=db, site_id=site_id, by=user.username)
    except enrollment.NotConfiguredError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (LookupError, service.TransitionRefusedError) as exc:
        raise _refused(exc) from None
    dispatcher = request.app.state.dispatcher
    if dispatcher is not None:
        dispatcher.wake()
    deadline = time.monotonic() + settings.sites.wipe_wait_s
    while True:
        async with transaction(sessions) as db:
            states = await service.command_states(db=db, command_ids=commands)
        if service.delivered(states) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    try:
        async with transaction(sessions) as db:
            detail = await service.revoke_site(
                db=db, settings=enroll, site_id=site_id, by=user.username
            )
            site = await service.get_site(db=db, site_id=site_id)
            assert site is not None  # locked and found by revoke_site
            read = await _read(db, site)
    except service.TransitionRefusedError as exc:
        raise _refused(exc) from None
    return SiteClosed(
        site=read,
        wipe_commands=states,
        revoked=detail["revoked"],
        broker_reload=detail["broker_reload"],
    )


@router.post("/{site_id}/decommission", response_model=SiteRead)
async def decommission(site_id: SiteId, user: Admin, db: DbSession, enroll: Enrollment) -> SiteRead:
    try:
        site = await service.decommission(db=db, settings=enroll, site_id=site_id, by=user.username)
    except enrollment.NotConfiguredError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (LookupError, service.TransitionRefusedError) as exc:
        raise _refused(exc) from None
    return await _read(db, site)
