"""Keeps the broker's CRL from expiring.

A CRL carries a `nextUpdate`; once it has passed, Mosquitto (OpenSSL's CRL check) refuses
every kiosk's handshake. This background task reads the CRL file's `nextUpdate` and, once
less than `crl_refresh_left` of its validity is left (or the file is missing or unreadable),
signs a new one from the database and runs the same broker reload as a revocation. Several
replicas may each re-sign: harmless, the CRL is the same list and its number only grows.

It starts with the enrollment router (its lifespan), and reads the enrollment settings each
round, so a control plane without a CA simply has nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from cryptography import x509
from fastapi import FastAPI

from cloud.audit.service import record
from cloud.db.engine import transaction
from cloud.enrollment import service
from cloud.enrollment.settings import EnrollmentSettings

log = structlog.get_logger(__name__)


def next_update(crl_file: Path) -> datetime | None:
    """The CRL file's `nextUpdate`, or None if there is no readable CRL."""
    try:
        crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    except (OSError, ValueError):
        return None
    return crl.next_update_utc


def app_settings(app: FastAPI) -> EnrollmentSettings:
    """The same settings the enrollment views use (`app.state`, else the environment)."""
    settings = getattr(app.state, "enrollment_settings", None)
    if settings is None:
        settings = EnrollmentSettings()
        app.state.enrollment_settings = settings
    return settings


def check_interval(settings: EnrollmentSettings) -> float:
    """Seconds between looks: at most a quarter of the refresh margin, so a short-lived CRL
    (tests, a cautious operator) is still caught in time."""
    margin = timedelta(days=settings.crl_days) * settings.crl_refresh_left
    return max(0.5, min(settings.crl_check_interval, margin / 4).total_seconds())


class CrlRefresher:
    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self.refreshed = 0

    def due(self, settings: EnrollmentSettings, now: datetime) -> bool:
        if settings.crl_file is None:
            return False
        expires = next_update(settings.crl_file)
        if expires is None:
            return True
        validity = timedelta(days=settings.crl_days)
        return expires - now < validity * settings.crl_refresh_left

    async def check_once(self, now: datetime | None = None) -> bool:
        """Re-sign the CRL if it is due; True if it was."""
        settings = app_settings(self._app)
        if not settings.crl_refresh or settings.ca_dir is None or settings.crl_file is None:
            return False
        now = now or datetime.now(UTC)
        if not self.due(settings, now):
            return False
        async with transaction(self._app.state.sessions) as db:
            path = await service.write_current_crl(db=db, settings=settings)
            reloaded = await service.reload_broker(settings)
            expires = next_update(path) if path is not None else None
            await record(
                db=db,
                actor="system",
                action="enrollment.crl_refresh",
                target="crl",
                detail={
                    "next_update": expires.isoformat() if expires else None,
                    "broker_reload": reloaded,
                },
            )
        self.refreshed += 1
        log.info("crl_refreshed", next_update=str(expires), broker_reload=reloaded)
        return True

    async def run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # the next round tries again; the broker keeps the old CRL
                log.exception("crl_refresh_failed")
            await asyncio.sleep(check_interval(app_settings(self._app)))


@contextlib.asynccontextmanager
async def refreshing(app: FastAPI) -> AsyncIterator[None]:
    """The enrollment router's lifespan: runs inside the app's (the database is up)."""
    refresher = CrlRefresher(app)
    app.state.crl_refresher = refresher
    task = asyncio.create_task(refresher.run(), name="crl-refresh")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
