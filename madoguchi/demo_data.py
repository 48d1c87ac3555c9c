"""A simulated past month for the demo, so the city's report page has something to show.

Made once (skipped when the month already has calls), deterministic (a seeded generator),
and marked as demo data by its kiosks and accounts; never used outside `make demo`.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta

from fastapi import FastAPI
from sqlalchemy import func, select

from cloud.attendance.models import SupportAttendance
from cloud.auth.models import StaffUser
from cloud.calendar.days import days
from cloud.calendar.schedule import load_site
from cloud.db.engine import transaction
from cloud.fleet.models import KioskStateChange
from cloud.inspections.models import Incident, Inspection
from cloud.reports.month import month_range
from cloud.routing.models import CallRecord, SupportCase

PROCEDURES = (
    ("health_insurance", 5),
    ("public_funds_account", 3),
    ("other_mynaportal", 1),
    ("new_card", 2),
    ("renewal", 2),
    ("referral_only", 1),
)


def previous_month(today: date) -> str:
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


async def seed_month(
    app: FastAPI,
    *,
    site_id: str,
    kiosks: tuple[str, ...],
    month: str,
    operator: str,
    support: str,
) -> bool:
    """Fill `month` with calls, support cases, attendance, inspections, an incident and the
    kiosks' state changes. False if the month already had calls."""
    site = load_site(site_id)
    zone = site.zone
    first, last = month_range(month)
    start_at = datetime.combine(first, time.min, zone)
    end_at = datetime.combine(last + timedelta(days=1), time.min, zone)
    rng = random.Random(f"{site_id}-{month}")
    async with transaction(app.state.sessions) as db:
        existing = await db.scalar(
            select(func.count())
            .select_from(CallRecord)
            .where(CallRecord.requested_at >= start_at, CallRecord.requested_at < end_at)
        )
        if existing:
            return False
        op = await db.scalar(select(StaffUser).where(StaffUser.username == operator))
        sup = await db.scalar(select(StaffUser).where(StaffUser.username == support))
        assert op is not None and sup is not None
        for kiosk_id in kiosks:
            db.add(
                KioskStateChange(
                    kiosk_id=kiosk_id,
                    status="online",
                    cause="birth",
                    bd_seq=1,
                    at=start_at - timedelta(hours=1),
                )
            )
        # One network outage on the second Wednesday, an hour in the morning.
        outage_day = next(d for d in days(site, first, last) if d.open and d.date.weekday() == 2)
        down = datetime.combine(outage_day.date, time(10, 5), zone)
        db.add(
            KioskStateChange(kiosk_id=kiosks[0], status="offline", cause="will", bd_seq=1, at=down)
        )
        db.add(
            KioskStateChange(
                kiosk_id=kiosks[0],
                status="online",
                cause="birth",
                bd_seq=2,
                at=down + timedelta(minutes=62),
            )
        )
        weights = [w for _, w in PROCEDURES]
        for day in days(site, first, last):
            if not day.open or day.opens is None or day.closes is None:
                continue
            opens = datetime.combine(day.date, day.opens, zone)
            span = (datetime.combine(day.date, day.closes, zone) - opens).total_seconds()
            for _ in range(rng.randint(3, 9)):
                requested = opens + timedelta(seconds=rng.uniform(0, span - 1800))
                procedure = rng.choices([p for p, _ in PROCEDURES], weights)[0]
                outcome = (
                    "referred"
                    if procedure == "referral_only"
                    else rng.choices(["completed", "not_completed"], [9, 1])[0]
                )
                connected = requested + timedelta(seconds=rng.uniform(20, 240))
                db.add(
                    CallRecord(
                        call_id=str(uuid.UUID(int=rng.getrandbits(128))),
                        kiosk_id=rng.choice(kiosks),
                        site_id=site_id,
                        state="ended",
                        requested_at=requested,
                        language="ja",
                        terms_version="2026-04",
                        privacy_version="2026-04",
                        operator_id=op.id,
                        ring_count=1,
                        ring_started_at=connected - timedelta(seconds=5),
                        connected_at=connected,
                        ended_at=connected + timedelta(minutes=rng.uniform(6, 25)),
                        end_reason="operator_hung_up",
                        support_requested=False,
                        answer_sent=True,
                        procedure=procedure,
                        outcome=outcome,
                        outcome_reason="card_locked" if outcome == "not_completed" else None,
                        outcome_at=connected + timedelta(minutes=26),
                    )
                )
            for _ in range(rng.randint(0, 3)):
                db.add(
                    SupportCase(
                        site_id=site_id,
                        kiosk_id=None,
                        procedure="renewal",
                        outcome="completed",
                        outcome_reason=None,
                        recorded_by=sup.id,
                        recorded_at=opens + timedelta(seconds=rng.uniform(0, span)),
                    )
                )
            db.add(
                SupportAttendance(
                    site_id=site_id,
                    day=day.date,
                    staff_id=sup.id,
                    recorded_by=support,
                    recorded_at=opens + timedelta(hours=8),
                )
            )
            if day.date.weekday() == 1 and day.date.day > 7:  # Tuesdays, the first one missed
                db.add(
                    Inspection(
                        site_id=site_id,
                        kiosk_id=kiosks[0],
                        inspected_on=day.date,
                        checklist={"camera": "ok", "card_reader": "ok", "headset": "ok"},
                        result="ok",
                        notes="",
                        recorded_by="demo-tech",
                        recorded_at=opens,
                    )
                )
        db.add(
            Incident(
                site_id=site_id,
                kiosk_id=kiosks[0],
                occurred_at=down,
                kind="incident",
                severity="serious",
                summary="回線断により通話が約1時間できなかった",
                prevention_plan="予備回線（LTE）への自動切替を導入する",
                recorded_by="demo-tech",
                recorded_at=down + timedelta(hours=2),
            )
        )
    return True
