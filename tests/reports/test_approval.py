"""The month-end workflow through the real database (SQLite and PostgreSQL): the contractor
submits, the city returns it with comments, the contractor corrects and submits again, the
city approves; only then is there an invoice, whose amounts (read back from the PDF) are the
billing figures. Roles and audit entries are checked on the way."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pypdfium2
from sqlalchemy import select

from cloud.attendance.models import SupportAttendance
from cloud.audit.models import AuditEntry
from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.reports.approval_demo import seed_demo
from tests.cloud.conftest import Cloud

SITE, MONTH = "city-hall", "2026-10"
TARGET = f"report:{SITE}/{MONTH}"


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


async def _attend(cloud: Cloud, username: str, *days: date) -> None:
    async with transaction(cloud.app.state.sessions) as db:
        staff = await db.scalar(select(StaffUser).where(StaffUser.username == username))
        assert staff is not None
        for day in days:
            db.add(
                SupportAttendance(
                    site_id=SITE,
                    day=day,
                    staff_id=staff.id,
                    recorded_by=username,
                    recorded_at=datetime.now(UTC),
                )
            )


async def test_submit_return_resubmit_approve_and_invoice(cloud: Cloud) -> None:
    support = await cloud.make_user(Role.SUPPORT, "sup-oct")
    # October 2026: the 1st and 2nd are weekdays; the 12th is Sports Day (closed, not billed).
    await _attend(cloud, support, date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 12))
    tokens = {role: await cloud.token(role) for role in Role}
    cloud.client.cookies.clear()

    def as_(role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    month = {"site": SITE, "month": MONTH}
    client = cloud.client
    state = await client.get("/api/reports/approvals", params=month, headers=as_(Role.CITY))
    assert state.status_code == 200 and state.json()["state"] == "draft"
    no_invoice = await client.get("/api/reports/invoice", params=month, headers=as_(Role.CITY))
    assert no_invoice.status_code == 409

    # Only the contractor submits; only the city decides.
    for role in (Role.CITY, Role.OPERATOR, Role.SUPPORT, Role.TECH):
        denied = await client.post("/api/reports/approvals/submit", json=month, headers=as_(role))
        assert denied.status_code == 403, role
    submitted = await client.post(
        "/api/reports/approvals/submit", json=month, headers=as_(Role.ADMIN)
    )
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert (body["state"], body["revision"]) == ("submitted", 1)
    assert body["snapshot"]["bill"]["support_days"] == 2
    assert body["snapshot"]["bill"]["counted_days"] == ["2026-10-01", "2026-10-02"]
    again = await client.post("/api/reports/approvals/submit", json=month, headers=as_(Role.ADMIN))
    assert again.status_code == 409
    for role in (Role.ADMIN, Role.OPERATOR, Role.TECH):
        denied = await client.post("/api/reports/approvals/approve", json=month, headers=as_(role))
        assert denied.status_code == 403, role
    assert (
        await client.get("/api/reports/invoice", params=month, headers=as_(Role.ADMIN))
    ).status_code == 409  # submitted is not approved

    # Returned with comments: no invoice, and it cannot be approved before it is resubmitted.
    bare = await client.post("/api/reports/approvals/return", json=month, headers=as_(Role.CITY))
    assert bare.status_code == 422  # a return says what to correct
    returned = await client.post(
        "/api/reports/approvals/return",
        json={**month, "comment": "10月5日の支援員の出勤が記録されていません。"},
        headers=as_(Role.CITY),
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "returned"
    assert returned.json()["comment"] == "10月5日の支援員の出勤が記録されていません。"
    for role in (Role.CITY, Role.ADMIN):
        refused = await client.get("/api/reports/invoice", params=month, headers=as_(role))
        assert refused.status_code == 409 and "差戻し" in refused.json()["detail"]
    late = await client.post("/api/reports/approvals/approve", json=month, headers=as_(Role.CITY))
    assert late.status_code == 409

    # The correction shows as a difference against the submitted figures.
    await _attend(cloud, support, date(2026, 10, 5))
    changed = (
        await client.get("/api/reports/approvals", params=month, headers=as_(Role.CITY))
    ).json()["changed_since_submission"]
    by_figure = {c["figure"]: (c["submitted"], c["current"]) for c in changed}
    assert by_figure["bill.support_days"] == (2, 3)
    assert by_figure["bill.total_yen"] == (1_694_000, 1_716_000)

    resubmitted = await client.post(
        "/api/reports/approvals/submit", json=month, headers=as_(Role.ADMIN)
    )
    assert resubmitted.status_code == 200
    assert (resubmitted.json()["revision"], resubmitted.json()["changed_since_submission"]) == (
        2,
        [],
    )
    approved = await client.post(
        "/api/reports/approvals/approve",
        json={**month, "comment": "確認しました"},
        headers=as_(Role.CITY),
    )
    assert approved.status_code == 200
    status = approved.json()
    assert status["state"] == "approved" and status["invoice_number"].startswith("MDG-202610-")
    assert [(h["action"], h["revision"]) for h in status["history"]] == [
        ("submit", 1),
        ("return", 1),
        ("submit", 2),
        ("approve", 2),
    ]
    final = await client.post("/api/reports/approvals/submit", json=month, headers=as_(Role.ADMIN))
    assert final.status_code == 409  # approved is final

    billing = (
        await client.get("/api/reports/billing", params=month, headers=as_(Role.CITY))
    ).json()
    for role in (Role.CITY, Role.ADMIN):
        invoice = await client.get("/api/reports/invoice", params=month, headers=as_(role))
        assert invoice.status_code == 200 and invoice.content.startswith(b"%PDF")
        assert invoice.headers["content-type"] == "application/pdf"
        text = pdf_text(invoice.content)
        assert "請求書" in text and status["invoice_number"] in text
        assert "市長" in text and "株式会社まどぐちサービス" in text
        for key in ("fixed_fee_yen", "support_fee_yen", "subtotal_yen", "tax_yen", "total_yen"):
            assert f"{billing[key]:,}" in text, (key, billing[key])
        assert f"¥{billing['total_yen']:,}-" in text
        assert "支援員 計上日（3日）: 10/1, 10/2, 10/5" in text
    assert billing["support_days"] == 3 and billing["total_yen"] == 1_716_000
    for role in (Role.OPERATOR, Role.SUPPORT, Role.TECH):
        assert (
            await client.get("/api/reports/invoice", params=month, headers=as_(role))
        ).status_code == 403

    async with transaction(cloud.app.state.sessions) as db:
        entries = list(
            await db.scalars(
                select(AuditEntry).where(AuditEntry.target == TARGET).order_by(AuditEntry.id)
            )
        )
    assert [e.action for e in entries] == [
        "report.submit",
        "report.return",
        "report.submit",
        "report.approve",
        "report.invoice",
        "report.invoice",
    ]
    assert entries[1].detail["comment"] == "10月5日の支援員の出勤が記録されていません。"
    assert entries[3].detail["invoice_number"] == status["invoice_number"]
    assert entries[3].detail["total_yen"] == 1_716_000
    submitter = entries[0].actor
    assert {entries[0].actor, entries[2].actor} == {submitter}
    assert entries[1].actor == entries[3].actor != submitter


async def test_a_month_not_ended_or_unknown_site_is_refused(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {admin}"}
    future = await cloud.client.post(
        "/api/reports/approvals/submit", json={"site": SITE, "month": "2099-01"}, headers=headers
    )
    assert future.status_code == 409 and "not ended" in future.json()["detail"]
    unknown = await cloud.client.post(
        "/api/reports/approvals/submit", json={"site": "nowhere", "month": MONTH}, headers=headers
    )
    assert unknown.status_code == 404
    state = await cloud.client.get(
        "/api/reports/approvals", params={"site": "nowhere", "month": MONTH}, headers=headers
    )
    assert state.status_code == 404


async def test_demo_seed_approves_last_month_and_places_the_staff(cloud: Cloud) -> None:
    for role, name in ((Role.ADMIN, "demo-admin"), (Role.OPERATOR, "demo-operator")):
        await cloud.make_user(role, name)
    now = datetime(2026, 11, 25, 3, tzinfo=UTC)
    async with transaction(cloud.app.state.sessions) as db:
        await seed_demo(db, now=now)
    async with transaction(cloud.app.state.sessions) as db:
        await seed_demo(db, now=now)  # again: nothing changes
    token = await cloud.token(Role.CITY)
    headers = {"Authorization": f"Bearer {token}"}
    state = await cloud.client.get(
        "/api/reports/approvals", params={"site": SITE, "month": MONTH}, headers=headers
    )
    assert state.json()["state"] == "approved" and len(state.json()["history"]) == 2
    invoice = await cloud.client.get(
        "/api/reports/invoice", params={"site": SITE, "month": MONTH}, headers=headers
    )
    assert invoice.status_code == 200
    org = (await cloud.client.get("/api/organisation", headers=headers)).json()
    assert org["chain"] == ["demo-admin", "demo-operator"]
