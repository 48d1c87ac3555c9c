"""`madoguchi bench report`: a month's report built from a year of records for many sites,
against a plain SQL count of the same records, in the same run.

The records: for every site, a year of opening days with calls (procedure and outcome) and
support-staff cases, written in bulk. Measured: the full monthly report (every query, the
calendar, uptime, billing, and the .xlsx) for every site for one month, and the peer — one
`GROUP BY` count per site over the same month's calls and cases.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import func, insert, select

from cloud.calendar.days import days
from cloud.calendar.schedule import BUILTIN_SITES, load_site
from cloud.db.base import import_all_models
from cloud.db.engine import make_engine, make_sessionmaker, transaction
from cloud.db.migrate import upgrade
from cloud.reports.monthly import monthly_report
from cloud.reports.xlsx import xlsx_bytes
from cloud.routing.models import CallRecord, SupportCase
from cloud.settings import BillingSettings

PROCEDURES = ("health_insurance", "public_funds_account", "new_card", "renewal")


@dataclass
class ReportBench:
    sites: int
    calls: int
    cases: int
    database: str
    report_s: float
    count_s: float
    checked: int

    def report(self) -> str:
        ratio = self.report_s / self.count_s if self.count_s else 0.0
        return (
            f"report: {self.sites} sites, a year of records ({self.calls:,} calls, "
            f"{self.cases:,} support cases), {self.database}\n"
            f"  monthly report + .xlsx for every site  {self.report_s:7.2f} s  "
            f"({self.report_s / self.sites * 1000:6.1f} ms per site)\n"
            f"  plain SQL GROUP BY count, same month   {self.count_s:7.3f} s\n"
            f"  ratio {ratio:.1f}x the plain count (totals agreed for {self.checked} sites)"
        )


def _site_files(directory: Path, sites: int) -> list[str]:
    template = (BUILTIN_SITES / "city-hall.yaml").read_text(encoding="utf-8")
    ids = [f"bench-site-{n:02d}" for n in range(sites)]
    for site_id in ids:
        (directory / f"{site_id}.yaml").write_text(
            template.replace("site_id: city-hall", f"site_id: {site_id}"), encoding="utf-8"
        )
    return ids


async def run(*, sites: int, month: str, database_url: str | None) -> ReportBench:
    import_all_models()  # the bulk inserts resolve foreign keys through the metadata
    year_start = date.fromisoformat(f"{month}-01") - timedelta(days=330)
    with TemporaryDirectory(prefix="madoguchi-bench-report-") as scratch:
        sites_dir = Path(scratch)
        url = database_url or f"sqlite+aiosqlite:///{sites_dir / 'report.db'}"
        engine = make_engine(url)
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        ids = _site_files(sites_dir, sites)
        rng = random.Random(7)
        calls = cases = 0
        first, last = year_start, date.fromisoformat(f"{month}-01") + timedelta(days=40)
        for site_id in ids:
            site = load_site(site_id, sites_dir=sites_dir)
            call_rows, case_rows = [], []
            for day in days(site, first, last):
                if not day.open or day.opens is None:
                    continue
                opens = datetime.combine(day.date, day.opens, site.zone)
                for _ in range(rng.randint(2, 10)):
                    at = opens + timedelta(minutes=rng.randint(0, 400))
                    call_rows.append(
                        {
                            "call_id": str(uuid.UUID(int=rng.getrandbits(128))),
                            "kiosk_id": f"{site_id}-k1",
                            "site_id": site_id,
                            "state": "ended",
                            "requested_at": at,
                            "language": "ja",
                            "terms_version": "1",
                            "privacy_version": "1",
                            "ring_count": 1,
                            "connected_at": at + timedelta(seconds=30),
                            "ended_at": at + timedelta(minutes=12),
                            "end_reason": "operator_hung_up",
                            "support_requested": False,
                            "answer_sent": True,
                            "procedure": rng.choice(PROCEDURES),
                            "outcome": "completed",
                        }
                    )
                for _ in range(rng.randint(0, 3)):
                    case_rows.append(
                        {
                            "site_id": site_id,
                            "procedure": "renewal",
                            "outcome": "completed",
                            "recorded_at": opens + timedelta(minutes=rng.randint(0, 400)),
                        }
                    )
            async with transaction(sessions) as db:
                await db.execute(insert(CallRecord), call_rows)
                await db.execute(insert(SupportCase), case_rows)
            calls += len(call_rows)
            cases += len(case_rows)

        billing = BillingSettings()
        totals: dict[str, int] = {}
        started = time.perf_counter()
        for site_id in ids:
            async with transaction(sessions) as db:
                report = await monthly_report(
                    db=db,
                    site_id=site_id,
                    month=month,
                    billing=billing,
                    sites_dir=sites_dir,
                    now=datetime.now(UTC),
                )
            xlsx_bytes(report)
            totals[site_id] = report.online_total + report.support_total
        report_s = time.perf_counter() - started

        site = load_site(ids[0], sites_dir=sites_dir)
        month_first = date.fromisoformat(f"{month}-01")
        month_end = (month_first + timedelta(days=32)).replace(day=1)
        start_at = datetime.combine(month_first, datetime.min.time(), site.zone)
        end_at = datetime.combine(month_end, datetime.min.time(), site.zone)
        counted: dict[str, int] = {}
        started = time.perf_counter()
        for site_id in ids:
            async with transaction(sessions) as db:
                online = await db.execute(
                    select(CallRecord.procedure, CallRecord.outcome, func.count())
                    .where(
                        CallRecord.site_id == site_id,
                        CallRecord.requested_at >= start_at,
                        CallRecord.requested_at < end_at,
                    )
                    .group_by(CallRecord.procedure, CallRecord.outcome)
                )
                support = await db.execute(
                    select(SupportCase.procedure, func.count())
                    .where(
                        SupportCase.site_id == site_id,
                        SupportCase.recorded_at >= start_at,
                        SupportCase.recorded_at < end_at,
                    )
                    .group_by(SupportCase.procedure)
                )
                counted[site_id] = sum(r[2] for r in online) + sum(r[1] for r in support)
        count_s = time.perf_counter() - started
        await engine.dispose()
    checked = sum(1 for site_id in ids if totals[site_id] == counted[site_id])
    if checked != len(ids):
        raise AssertionError(f"the report and the plain count disagree: {totals} {counted}")
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    return ReportBench(sites, calls, cases, database, report_s, count_s, checked)
