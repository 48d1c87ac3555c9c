"""The monthly report and the bill, from records in the real database, read back from the
.xlsx cell by cell and from the PDF rendered to an image."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time

import pypdfium2
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from cloud.attendance.models import SupportAttendance
from cloud.auth.models import Role, StaffUser
from cloud.calendar.days import Closure
from cloud.calendar.schedule import load_site
from cloud.calendar.service import add_closure
from cloud.db.engine import transaction
from cloud.fleet import service as fleet
from cloud.inspections.models import Incident, Inspection
from cloud.reports.billing import bill
from cloud.reports.monthly import monthly_report
from cloud.reports.pdf import pdf_bytes
from cloud.reports.xlsx import xlsx_bytes
from cloud.routing import service
from cloud.routing.models import NotCompletedReason, Outcome, Procedure, SupportCase
from cloud.settings import BillingSettings
from protocol.v1 import CallMessage, Peripheral, StateMessage
from tests.cloud.conftest import Cloud

# Calls are routed by the tests at fixed times, not by the app's background pass.
pytestmark = pytest.mark.usefixtures("routing_stepped_by_test")

SITE = load_site("city-hall")
ZONE = SITE.zone
SETTINGS = BillingSettings(monthly_fee_yen=1_500_000, support_daily_rate_yen=20_000, tax_percent=10)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


def test_billing_counts_days_worked_on_days_city_hall_opened() -> None:
    # November 2026: the 3rd is a national holiday, the 8th the 2nd Sunday (open), the 21st
    # the 3rd Saturday (open), the 23rd a holiday.
    storms = [
        Closure(date(2026, 11, 10), "暴風警報"),  # closed all day
        Closure(date(2026, 11, 11), "暴風警報", from_time=time(12, 0)),  # closed from noon
        Closure(date(2026, 11, 12), "暴風警報", until_time=time(10, 0)),  # opened late
    ]
    worked = {
        date(2026, 11, 2): 1,
        date(2026, 11, 3): 1,  # holiday: not counted
        date(2026, 11, 8): 2,  # two staff, still one day
        date(2026, 11, 10): 1,  # storm, closed all day: not counted
        date(2026, 11, 11): 1,  # closed part-way: counts as one
        date(2026, 11, 12): 1,  # opened late: counts as one
        date(2026, 11, 15): 1,  # a plain Sunday: closed
    }
    result = bill(
        site=SITE,
        month="2026-11",
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
        attendance=worked,
        closures=storms,
        settings=SETTINGS,
    )
    counted = [d.date.day for d in result.days if d.counted]
    assert counted == [2, 8, 11, 12]
    assert result.support_days == 4
    assert result.support_fee_yen == 80_000
    assert result.subtotal_yen == 1_580_000
    assert result.tax_yen == 158_000 and result.total_yen == 1_738_000
    basis = {d.date.day: d.basis for d in result.days}
    assert "終日閉庁" in basis[10] and "暴風警報" in basis[10]
    assert "一部開庁" in basis[11] and "一部開庁" in basis[12]
    assert "終日閉庁" in basis[3]
    odd = bill(
        site=SITE,
        month="2026-11",
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
        attendance={date(2026, 11, 2): 1},
        closures=(),
        settings=BillingSettings(monthly_fee_yen=99_999, support_daily_rate_yen=0, tax_percent=10),
    )
    assert odd.tax_yen == 9_999  # rounded down to the yen


async def _fill_november(cloud: Cloud) -> dict[str, object]:
    """Records for November 2026 at city hall: what the report must show."""
    sessions = cloud.app.state.sessions
    november_2 = date(2026, 11, 2)  # Monday
    async with transaction(sessions) as db:
        for kiosk in ("city-hall-01", "city-hall-02"):
            await fleet.apply_state(
                db=db,
                message=StateMessage(
                    kiosk_id=kiosk,
                    sent_at=local(date(2026, 10, 31), 8),
                    seq=1,
                    status="online",
                    bd_seq=1,
                    will=False,
                    site_id="city-hall",
                    agent_version="0.1.0",
                    os_version="Debian 12",
                    peripherals=(Peripheral(name="card_reader", status="ok", simulated=True),),
                ),
                received_at=local(date(2026, 10, 31), 8),
            )
        await add_closure(
            db=db,
            site_id="city-hall",
            day=date(2026, 11, 10),
            reason="暴風警報",
            recorded_by="city1",
        )
        for username, role in (("op-m", Role.OPERATOR), ("sup-m", Role.SUPPORT)):
            db.add(
                StaffUser(
                    username=username,
                    display_name=username,
                    role=role.value,
                    password_hash="!",
                    created_at=datetime.now(UTC),
                    failed_logins=0,
                )
            )
        await db.flush()
        operator = await db.scalar(select(StaffUser).where(StaffUser.username == "op-m"))
        support = await db.scalar(select(StaffUser).where(StaffUser.username == "sup-m"))
        assert operator is not None and support is not None
        await service.sign_in(db=db, user=operator, now=local(november_2, 8))
        await service.set_presence(
            db=db, user=operator, status=service.Presence.AVAILABLE, now=local(november_2, 8)
        )
    plan = [
        (november_2, 9, Procedure.HEALTH_INSURANCE, Outcome.COMPLETED, None),
        (november_2, 10, Procedure.HEALTH_INSURANCE, Outcome.COMPLETED, None),
        (
            november_2,
            11,
            Procedure.PUBLIC_FUNDS_ACCOUNT,
            Outcome.NOT_COMPLETED,
            NotCompletedReason.CARD_LOCKED,
        ),
        (date(2026, 11, 4), 18, Procedure.NEW_CARD, Outcome.REFERRED, None),  # Wednesday evening
    ]
    for day, hour, procedure, outcome, reason in plan:
        message = CallMessage(
            kiosk_id="city-hall-01",
            sent_at=local(day, hour),
            seq=hour,
            call_id=uuid.uuid4(),
            action="request",
            terms_version="2026-04",
            privacy_version="2026-04",
        )
        call_id = str(message.call_id)
        async with transaction(sessions) as db:
            await service.request_call(
                db=db, message=message, site_id="city-hall", now=local(day, hour)
            )
            await service.accept(db=db, user=operator, call_id=call_id, now=local(day, hour, 1))
            await service.hang_up(db=db, user=operator, call_id=call_id, now=local(day, hour, 9))
            await service.record_outcome(
                db=db,
                user=operator,
                call_id=call_id,
                procedure=procedure,
                outcome=outcome,
                reason=reason,
                now=local(day, hour, 10),
            )
    # An abandoned call (never connected) is not a resident helped.
    abandoned = CallMessage(
        kiosk_id="city-hall-02",
        sent_at=local(november_2, 15),
        seq=99,
        call_id=uuid.uuid4(),
        action="request",
        terms_version="2026-04",
        privacy_version="2026-04",
    )
    async with transaction(sessions) as db:
        await service.request_call(
            db=db, message=abandoned, site_id="city-hall", now=local(november_2, 15)
        )
        await service.end_kiosk_call(
            db=db, message=abandoned, reason="abandoned", now=local(november_2, 15, 5)
        )
        for day, hour in ((november_2, 13), (date(2026, 11, 5), 9)):
            db.add(
                SupportCase(
                    site_id="city-hall",
                    kiosk_id=None,
                    procedure="renewal",
                    outcome="completed",
                    outcome_reason=None,
                    recorded_by=support.id,
                    recorded_at=local(day, hour),
                )
            )
        for day in (november_2, date(2026, 11, 10), date(2026, 11, 11)):
            db.add(
                SupportAttendance(
                    site_id="city-hall",
                    day=day,
                    staff_id=support.id,
                    recorded_by="sup-m",
                    recorded_at=local(day, 17),
                )
            )
        # Inspections: weeks of Nov 2 and Nov 16 done; the week of Nov 9 missed.
        for day in (date(2026, 11, 2), date(2026, 11, 17), date(2026, 11, 23)):
            db.add(
                Inspection(
                    site_id="city-hall",
                    kiosk_id="city-hall-01",
                    inspected_on=day,
                    checklist={"camera": "ok", "card_reader": "ok"},
                    result="ok",
                    notes="",
                    recorded_by="tech1",
                    recorded_at=local(day, 8),
                )
            )
        db.add(
            Incident(
                site_id="city-hall",
                kiosk_id="city-hall-01",
                occurred_at=local(date(2026, 11, 6), 14),
                kind="complaint",
                severity="serious",
                summary="通話が途中で切れた",
                prevention_plan="回線を二重化する",
                recorded_by="city1",
                recorded_at=local(date(2026, 11, 6), 15),
            )
        )
    return {"operator": operator}


async def test_monthly_report_from_records_xlsx_cell_by_cell_and_pdf_charts(
    cloud: Cloud,
) -> None:
    await _fill_november(cloud)
    async with transaction(cloud.app.state.sessions) as db:
        report = await monthly_report(
            db=db,
            site_id="city-hall",
            month="2026-11",
            billing=SETTINGS,
            now=local(date(2026, 12, 1), 9),
        )
    # 19 weekdays (3rd and 23rd are holidays) + 2nd Sunday + 3rd Saturday - the storm day
    assert report.opening_days == 20
    assert (report.online_total, report.support_total) == (4, 2)
    assert [(w.start.day, w.done) for w in report.weeks_missed] == [(9, False)]

    book = load_workbook(io.BytesIO(xlsx_bytes(report)))
    assert book.sheetnames == ["概要", "日別", "手続別", "稼働状況", "点検", "事故・苦情", "請求"]
    daily = book["日別"]
    rows = {row[0].value.date(): row for row in daily.iter_rows(min_row=2, max_row=31)}
    monday = rows[date(2026, 11, 2)]
    assert [c.value for c in monday[1:4]] == ["月", "開設", "08:30〜17:15"]
    assert (monday[6].value, monday[7].value, monday[8].value) == (3, 1, 4)
    storm = rows[date(2026, 11, 10)]
    assert storm[2].value == "閉庁" and "暴風警報" in storm[4].value and storm[5].value == 0
    assert rows[date(2026, 11, 4)][3].value == "08:30〜20:00"  # Wednesday evening hours
    assert rows[date(2026, 11, 4)][6].value == 1
    assert rows[date(2026, 11, 3)][2].value == "閉庁"  # 文化の日
    assert rows[date(2026, 11, 8)][2].value == "開設"  # 2nd Sunday
    assert daily.cell(row=32, column=7).value == 4 and daily.cell(row=32, column=8).value == 2

    procedures = {
        (r[0].value, r[1].value, r[2].value): r[3].value
        for r in book["手続別"].iter_rows(min_row=2)
    }
    assert procedures == {
        ("オンライン窓口", "健康保険証利用登録", "完了"): 2,
        ("オンライン窓口", "公金受取口座登録", "未完了"): 1,
        ("オンライン窓口", "新規交付申請", "窓口案内"): 1,
        ("支援員", "更新申請", "完了"): 2,
    }
    checks = book["点検"]
    weeks = {r[0].value.date(): r[3].value for r in checks.iter_rows(min_row=2, max_row=5)}
    # Weeks belong to the month of their Thursday: Nov 2, 9, 16 and 23.
    assert sorted(d.day for d in weeks) == [2, 9, 16, 23]
    assert weeks[date(2026, 11, 9)] == "未実施"
    assert weeks[date(2026, 11, 2)] == "実施" and weeks[date(2026, 11, 16)] == "実施"
    incident = next(book["事故・苦情"].iter_rows(min_row=2, max_row=2))
    assert [c.value for c in incident[1:3]] == ["苦情", "重大"]
    assert incident[5].value == "回線を二重化する"
    billing = book["請求"]
    assert billing["B3"].value == 2  # Nov 2 and Nov 11 (the storm day does not count)
    assert billing["B4"].value == 40_000
    assert billing["B7"].value == (1_500_000 + 40_000) * 110 // 100
    summary = {r[0].value: r[1].value for r in book["概要"].iter_rows(min_row=3)}
    assert summary["開設日数"] == 20 and summary["オンライン窓口 対応人数"] == 4
    assert summary["点検未実施週"] == 1

    pdf = pdfium_page_image(pdf_bytes(report))
    # The charts are there: bars in the online counter's blue and the uptime green.
    colours = pdf.getcolors(maxcolors=1 << 20)
    assert colours is not None
    blue = sum(n for n, c in colours if _near(c, (0x0B, 0x4F, 0x8A)))
    green = sum(n for n, c in colours if _near(c, (0x15, 0x80, 0x3D)))
    assert blue > 500 and green > 500, (blue, green)


def _near(colour: tuple[int, ...], target: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour[:3], target, strict=True))


def pdfium_page_image(data: bytes):  # type: ignore[no-untyped-def]
    document = pypdfium2.PdfDocument(data)
    try:
        assert len(document) >= 1
        return document[0].render(scale=1.5).to_pil().convert("RGB")
    finally:
        document.close()


async def test_report_and_bill_through_the_api_for_the_city_only(cloud: Cloud) -> None:
    await _fill_november(cloud)
    city = await cloud.token(Role.CITY)
    tech = await cloud.token(Role.TECH)
    headers = {"Authorization": f"Bearer {city}"}
    xlsx = await cloud.client.get(
        "/api/reports/monthly", params={"site": "city-hall", "month": "2026-11"}, headers=headers
    )
    assert xlsx.status_code == 200
    assert "attachment" in xlsx.headers["content-disposition"]
    assert load_workbook(io.BytesIO(xlsx.content))["概要"]["A1"].value.startswith("業務実績報告")
    pdf = await cloud.client.get(
        "/api/reports/monthly",
        params={"site": "city-hall", "month": "2026-11", "format": "pdf"},
        headers=headers,
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    billing = await cloud.client.get(
        "/api/reports/billing", params={"site": "city-hall", "month": "2026-11"}, headers=headers
    )
    figures = billing.json()
    assert figures["support_days"] == 2 and len(figures["days"]) == 30
    denied = await cloud.client.get(
        "/api/reports/billing",
        params={"site": "city-hall", "month": "2026-11"},
        headers={"Authorization": f"Bearer {tech}"},
    )
    assert denied.status_code == 403
    bad = await cloud.client.get(
        "/api/reports/billing", params={"site": "city-hall", "month": "2026-13"}, headers=headers
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("month", ["2026-02"])
async def test_an_empty_month_still_reports(cloud: Cloud, month: str) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        report = await monthly_report(db=db, site_id="city-hall", month=month, billing=SETTINGS)
    assert report.online_total == 0 and report.bill.support_days == 0
    assert report.bill.total_yen == 1_650_000
    assert len(report.weeks_missed) == len([w for w in report.weeks if w.needed])
    assert load_workbook(io.BytesIO(xlsx_bytes(report)))["日別"].max_row == 28 + 2
    assert pdf_bytes(report).startswith(b"%PDF")
