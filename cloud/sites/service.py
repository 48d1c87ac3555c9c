"""The site lifecycle: created → provisioned → checked → open → closed → decommissioned.

Every transition is checked against the current state (a refused one raises
`TransitionRefusedError`, which the views answer with 409), stored in the site's history and
audited in the same transaction. Enrollment, commands and revocation are the existing
domains' own functions (`cloud.enrollment`, `cloud.maintenance`): nothing is done twice here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit.service import record
from cloud.calendar.schedule import SiteSchedule, site_schedule
from cloud.enrollment import service as enrollment
from cloud.enrollment.models import IdentityState, KioskCertificate, KioskIdentity
from cloud.enrollment.settings import EnrollmentSettings
from cloud.fleet.models import Kiosk
from cloud.maintenance import service as maintenance
from cloud.maintenance.models import CommandState, KioskCommand
from cloud.sites.models import Site, SiteEvent, SiteKiosk, SiteState
from provisioning.enrollment import EnrollmentError
from provisioning.sites import SiteFile

log = structlog.get_logger("cloud.sites")

# The session wipe: a restarted agent removes every session directory before it serves
# anyone (edge/session_files.py), so the existing `restart_agent` command is the wipe.
WIPE_COMMAND = "restart_agent"
WIPE_TTL = timedelta(hours=1)
# Where `close` may start from: any state before it (a pop-up cancelled before it opened is
# closed too, so that its tokens and certificates are revoked).
CLOSABLE = frozenset({SiteState.CREATED, SiteState.PROVISIONED, SiteState.CHECKED, SiteState.OPEN})


class TransitionRefusedError(Exception):
    """The site is not in a state that allows this step (409); the message says why."""


class SiteConflictError(Exception):
    """The site or one of its kiosks is already registered (409)."""


@dataclass(frozen=True, slots=True)
class Created:
    site: Site
    tokens: dict[str, tuple[str, datetime]]  # kiosk id → (one-time token, expires at)


async def get_site(*, db: AsyncSession, site_id: str, lock: bool = False) -> Site | None:
    return await db.get(Site, site_id, with_for_update=lock)


async def list_sites(*, db: AsyncSession) -> list[Site]:
    return list(await db.scalars(select(Site).order_by(Site.site_id)))


async def kiosk_ids(*, db: AsyncSession, site_id: str) -> list[str]:
    return list(
        await db.scalars(
            select(SiteKiosk.kiosk_id)
            .where(SiteKiosk.site_id == site_id)
            .order_by(SiteKiosk.kiosk_id)
        )
    )


async def history(*, db: AsyncSession, site_id: str) -> list[SiteEvent]:
    return list(
        await db.scalars(
            select(SiteEvent).where(SiteEvent.site_id == site_id).order_by(SiteEvent.id)
        )
    )


async def _move(
    db: AsyncSession,
    site: Site,
    to: SiteState,
    by: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    before = site.state
    site.state, site.state_changed_at = to, now
    db.add(
        SiteEvent(
            site_id=site.site_id, from_state=before, to_state=to, by=by, at=now, detail=detail
        )
    )
    await db.flush()
    await record(
        db=db,
        actor=by,
        action=f"site.{to.value}",
        target=f"site:{site.site_id}",
        detail={"from": before, **detail},
    )
    log.info("site_state", site_id=site.site_id, state=to.value, previous=before)


async def _site_in(db: AsyncSession, site_id: str, allowed: set[SiteState], step: str) -> Site:
    site = await get_site(db=db, site_id=site_id, lock=True)
    if site is None:
        raise LookupError(f"no site '{site_id}': create it with `madoguchi site create FILE`")
    if site.state not in allowed:
        wanted = " or ".join(sorted(allowed))
        raise TransitionRefusedError(
            f"cannot {step} site {site_id}: it is {site.state} (needs {wanted})"
        )
    return site


async def create(*, db: AsyncSession, site: SiteFile, by: str, token_ttl: timedelta) -> Created:
    """Register the site and its kiosks (fleet registry) and issue one enrollment token per
    kiosk. Refused, with nothing written, if the site or any kiosk is already registered."""
    if await get_site(db=db, site_id=site.site_id) is not None:
        raise SiteConflictError(f"site {site.site_id} is already registered")
    taken = list(
        await db.execute(
            select(SiteKiosk.kiosk_id, SiteKiosk.site_id).where(
                SiteKiosk.kiosk_id.in_(site.kiosk_ids)
            )
        )
    )
    if taken:
        names = ", ".join(f"{kiosk} (site {owner})" for kiosk, owner in taken)
        raise SiteConflictError(f"kiosks already in another site: {names}")
    now = datetime.now(UTC)
    row = Site(
        site_id=site.site_id,
        name=site.name,
        kind=site.kind,
        state=SiteState.CREATED,
        definition=site.model_dump(mode="json"),
        created_by=by,
        created_at=now,
        state_changed_at=now,
        revoked_at=None,
    )
    db.add(row)
    await db.flush()
    tokens: dict[str, tuple[str, datetime]] = {}
    for kiosk in site.kiosks:
        db.add(SiteKiosk(kiosk_id=kiosk.kiosk_id, site_id=site.site_id, hostname=kiosk.hostname))
        await _register_kiosk(db, kiosk.kiosk_id, site.site_id, now)
        try:
            token, token_row = await enrollment.create_token(
                db=db, kiosk_id=kiosk.kiosk_id, created_by=by, ttl=token_ttl
            )
        except EnrollmentError as exc:  # a decommissioned kiosk id cannot come back
            raise SiteConflictError(str(exc)) from exc
        tokens[kiosk.kiosk_id] = (token, token_row.expires_at)
    db.add(
        SiteEvent(
            site_id=site.site_id,
            from_state=None,
            to_state=SiteState.CREATED,
            by=by,
            at=now,
            detail={"kiosks": list(site.kiosk_ids), "kind": site.kind},
        )
    )
    await db.flush()
    await record(
        db=db,
        actor=by,
        action="site.create",
        target=f"site:{site.site_id}",
        detail={"kind": site.kind, "kiosks": list(site.kiosk_ids)},
    )
    return Created(row, tokens)


async def _register_kiosk(db: AsyncSession, kiosk_id: str, site_id: str, now: datetime) -> None:
    """The kiosk in the fleet registry before it ever connects (offline, no versions yet);
    its first birth message fills in the rest."""
    kiosk = await db.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is not None:
        if kiosk.site_id != site_id:
            raise SiteConflictError(
                f"kiosk {kiosk_id} is in the fleet registry at site {kiosk.site_id}"
            )
        return
    db.add(
        Kiosk(
            kiosk_id=kiosk_id,
            site_id=site_id,
            status="offline",
            bd_seq=0,
            online_since=None,
            last_seen_at=now,
            agent_version="",
            os_version="",
            peripherals=[],
            host=None,
            last_telemetry_seq=0,
            training=False,
        )
    )
    await db.flush()


async def unenrolled(*, db: AsyncSession, site_id: str) -> list[str]:
    """The site's kiosks that hold no valid, unrevoked certificate yet."""
    now = datetime.now(UTC)
    kiosks = await kiosk_ids(db=db, site_id=site_id)
    enrolled = set(
        await db.scalars(
            select(KioskCertificate.kiosk_id)
            .join(KioskIdentity, KioskIdentity.kiosk_id == KioskCertificate.kiosk_id)
            .where(
                KioskCertificate.kiosk_id.in_(kiosks),
                KioskCertificate.revoked_at.is_(None),
                KioskCertificate.not_after > now,
                KioskIdentity.state == IdentityState.ENROLLED,
            )
        )
    )
    return [k for k in kiosks if k not in enrolled]


async def mark_provisioned(*, db: AsyncSession, site_id: str, by: str) -> Site:
    """created → provisioned, once every kiosk has enrolled (its certificate is issued)."""
    site = await _site_in(db, site_id, {SiteState.CREATED}, "mark as provisioned")
    waiting = await unenrolled(db=db, site_id=site_id)
    if waiting:
        raise TransitionRefusedError(
            f"site {site_id} is not provisioned yet: no certificate for {', '.join(waiting)} "
            "(run the playbook, or `madoguchi edge enroll` on those kiosks)"
        )
    await _move(db, site, SiteState.PROVISIONED, by, {}, datetime.now(UTC))
    return site


async def _passing_check(db: AsyncSession, site_id: str, max_age: timedelta) -> dict[str, Any]:
    """The newest connection test, if it passed and is recent; else the refusal says why."""
    from cloud.site_checks.service import latest_result

    result = await latest_result(db, site_id)
    now = datetime.now(UTC)
    if result is None:
        raise TransitionRefusedError(
            f"site {site_id} has no connection test yet: run `madoguchi site check {site_id}`"
        )
    if not result.passed:
        raise TransitionRefusedError(
            f"the newest connection test of site {site_id} (run {result.run_id}) failed: fix "
            f"it and run `madoguchi site check {site_id}` again"
        )
    finished = result.finished_at or now  # always set on a finished run
    if now - finished > max_age:
        raise TransitionRefusedError(
            f"the newest connection test of site {site_id} is older than {max_age}: "
            f"run `madoguchi site check {site_id}` again"
        )
    return {"check_run_id": str(result.run_id), "check_finished_at": finished.isoformat()}


async def mark_checked(*, db: AsyncSession, site_id: str, by: str, max_age: timedelta) -> Site:
    """provisioned → checked when the newest connection test passed (again from checked:
    a newer test is recorded)."""
    site = await _site_in(
        db, site_id, {SiteState.PROVISIONED, SiteState.CHECKED}, "mark as checked"
    )
    detail = await _passing_check(db, site_id, max_age)
    await _move(db, site, SiteState.CHECKED, by, detail, datetime.now(UTC))
    return site


async def open_site(*, db: AsyncSession, site_id: str, by: str, max_age: timedelta) -> Site:
    """checked → open, only if the newest connection test passed within `max_age`."""
    site = await _site_in(db, site_id, {SiteState.CHECKED}, "open")
    detail = await _passing_check(db, site_id, max_age)
    await _move(db, site, SiteState.OPEN, by, detail, datetime.now(UTC))
    return site


async def begin_close(*, db: AsyncSession, site_id: str, by: str) -> tuple[Site, list[str]]:
    """→ closed: no more calls; a session-wipe command is queued for each kiosk. Returns the
    command ids (the caller waits for them before `revoke_site`). A site closed earlier whose
    revocation did not finish is accepted again, with no new command."""
    site = await get_site(db=db, site_id=site_id, lock=True)
    if site is not None and site.state == SiteState.CLOSED and site.revoked_at is None:
        return site, []
    site = await _site_in(db, site_id, set(CLOSABLE), "close")
    commands = []
    for kiosk_id in await kiosk_ids(db=db, site_id=site_id):
        command = await maintenance.issue_command(
            db=db,
            kiosk_id=kiosk_id,
            name=WIPE_COMMAND,
            args={"reason": "site_closed"},
            force=False,  # a resident still being served finishes first
            issued_by=by,
            ttl=WIPE_TTL,
        )
        commands.append(command.command_id)
    await _move(db, site, SiteState.CLOSED, by, {"wipe_commands": commands}, datetime.now(UTC))
    return site, commands


async def command_states(*, db: AsyncSession, command_ids: list[str]) -> dict[str, str]:
    rows = await db.scalars(select(KioskCommand).where(KioskCommand.command_id.in_(command_ids)))
    return {row.command_id: row.state for row in rows}


def delivered(states: dict[str, str]) -> bool:
    """Every command left the queue (sent to the broker, or answered)."""
    return all(state != CommandState.QUEUED for state in states.values())


async def _revoke_all(
    db: AsyncSession, settings: EnrollmentSettings, site_id: str, by: str, *, final: bool
) -> dict[str, Any]:
    revoked: dict[str, list[str]] = {}
    reloads: set[str] = set()
    for kiosk_id in await kiosk_ids(db=db, site_id=site_id):
        try:
            done = await enrollment.revoke(
                db=db, settings=settings, kiosk_id=kiosk_id, by=by, decommission=final
            )
        except LookupError:
            continue  # never enrolled, no token left: nothing to revoke
        revoked[kiosk_id] = done.revoked
        reloads.add(done.broker_reload)
    return {"revoked": revoked, "broker_reload": sorted(reloads)}


async def revoke_site(
    *, db: AsyncSession, settings: EnrollmentSettings, site_id: str, by: str
) -> dict[str, Any]:
    """The second half of `close`: revoke every kiosk's certificates (CRL, broker reload)."""
    site = await _site_in(db, site_id, {SiteState.CLOSED}, "revoke the certificates of")
    if site.revoked_at is not None:
        raise TransitionRefusedError(f"site {site_id} is already closed")
    detail = await _revoke_all(db, settings, site_id, by, final=False)
    site.revoked_at = datetime.now(UTC)
    db.add(
        SiteEvent(
            site_id=site_id,
            from_state=SiteState.CLOSED,
            to_state=SiteState.CLOSED,
            by=by,
            at=site.revoked_at,
            detail=detail,
        )
    )
    await db.flush()
    await record(db=db, actor=by, action="site.revoke", target=f"site:{site_id}", detail=detail)
    return detail


async def decommission(
    *, db: AsyncSession, settings: EnrollmentSettings, site_id: str, by: str
) -> Site:
    """closed → decommissioned: every kiosk refused for good; the site stays as a record."""
    site = await _site_in(db, site_id, {SiteState.CLOSED}, "decommission")
    if site.revoked_at is None:
        raise TransitionRefusedError(
            f"site {site_id} is closing: run `madoguchi site close {site_id}` again to finish "
            "revoking its certificates"
        )
    detail = await _revoke_all(db, settings, site_id, by, final=True)
    await _move(db, site, SiteState.DECOMMISSIONED, by, detail, datetime.now(UTC))
    return site


# --- what the calendar and routing ask --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisteredSite:
    state: str
    schedule: SiteSchedule


def schedule_of(site: Site) -> SiteSchedule:
    return site_schedule(site.site_id, site.name, dict(site.definition["schedule"]))


async def registered_sites(*, db: AsyncSession) -> dict[str, RegisteredSite]:
    """Every registered site's state and schedule (for the calendar's "open now")."""
    return {
        site.site_id: RegisteredSite(site.state, schedule_of(site))
        for site in await list_sites(db=db)
    }


async def takes_calls(*, db: AsyncSession, site_id: str) -> bool:
    """A registered site takes calls only while open; a site that was never registered
    (a kiosk configured by hand) keeps the behaviour it always had."""
    state = await db.scalar(select(Site.state).where(Site.site_id == site_id))
    return state is None or state == SiteState.OPEN
