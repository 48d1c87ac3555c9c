"""Whether a site is open now, for alerts and staffing; schedules are loaded once.

A site registered through `/api/sites` (a pop-up) is open only while its lifecycle state is
`open`, and then on the schedule of the file it was created from; the other sites follow
their site file alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.calendar.days import Closure, is_open
from cloud.calendar.schedule import SiteSchedule, UnknownSiteError, load_site
from cloud.calendar.service import closures
from cloud.sites.service import RegisteredSite, registered_sites

log = structlog.get_logger("cloud.calendar")


class OpeningHours:
    def __init__(self, *, sites_dir: Path | None = None) -> None:
        self._sites_dir = sites_dir
        self._schedules: dict[str, SiteSchedule | None] = {}
        self.closures: list[Closure] = []  # refreshed by whoever owns the closure records
        self.registered: dict[str, RegisteredSite] = {}  # refreshed with the closures

    def schedule(self, site_id: str) -> SiteSchedule | None:
        if site_id in self.registered:
            return self.registered[site_id].schedule
        if site_id not in self._schedules:
            try:
                self._schedules[site_id] = load_site(site_id, sites_dir=self._sites_dir)
            except UnknownSiteError:
                log.warning("site_without_schedule", site_id=site_id)
                self._schedules[site_id] = None
        return self._schedules[site_id]

    async def refresh(self, *, db: AsyncSession, now: datetime) -> None:
        """Load the closures around `now` (the sites' local dates differ from UTC's)."""
        today = now.date()
        self.closures = await closures(
            db=db, site_id=None, start=today - timedelta(days=1), end=today + timedelta(days=1)
        )
        self.registered = await registered_sites(db=db)

    def __call__(self, site_id: str, now: datetime) -> bool:
        """Open now? A site with no schedule counts as open: better an alert too many."""
        registered = self.registered.get(site_id)
        if registered is not None and registered.state != "open":
            return False
        schedule = self.schedule(site_id)
        if schedule is None:
            return True
        return is_open(schedule, now, (c for c in self.closures))
