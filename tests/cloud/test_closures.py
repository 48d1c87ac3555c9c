"""Closures recorded through the API (city staff) change the calendar and the alerts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.calendar.lookup import OpeningHours
from cloud.db.engine import transaction
from tests.cloud.conftest import Cloud


async def test_city_staff_record_a_storm_closure_and_the_calendar_follows(cloud: Cloud) -> None:
    city = await cloud.token(Role.CITY, "city-staff")
    headers = {"Authorization": f"Bearer {city}"}
    body = {"date": "2026-11-25", "from_time": "15:00", "reason": "暴風警報の発令"}
    created = await cloud.client.post("/api/sites/city-hall/closures", json=body, headers=headers)
    assert created.status_code == 201 and created.json()["recorded_by"] == "city-staff"
    days = (
        await cloud.client.get(
            "/api/sites/city-hall/days",
            params={"from": "2026-11-25", "to": "2026-11-26"},
            headers=headers,
        )
    ).json()
    assert days[0]["closes"] == "15:00" and days[0]["reason"] == "closure: 暴風警報の発令"
    assert days[1]["closes"] == "17:15" and days[1]["reason"] is None
    async with transaction(cloud.app.state.sessions) as db:
        # The log-in is audited too; what matters here is the closure.
        actions = [e.action for e in await db.scalars(select(AuditEntry)) if e.action != "login"]
        hours = OpeningHours()
        await hours.refresh(db=db, now=datetime(2026, 11, 25, 7, 0).astimezone())
    assert actions == ["closure.add"]
    tokyo = hours.schedule("city-hall").zone  # type: ignore[union-attr]
    assert hours("city-hall", datetime(2026, 11, 25, 14, 0, tzinfo=tokyo))
    assert not hours("city-hall", datetime(2026, 11, 25, 16, 0, tzinfo=tokyo))


async def test_closure_rules_and_roles(cloud: Cloud) -> None:
    tech = await cloud.token(Role.TECH)
    admin = await cloud.token(Role.ADMIN)

    async def post(token: str, site: str, **body: object) -> int:
        response = await cloud.client.post(
            f"/api/sites/{site}/closures", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    assert await post(tech, "city-hall", date="2026-11-25", reason="x") == 403
    assert await post(admin, "nowhere", date="2026-11-25", reason="x") == 404
    assert await post(admin, "city-hall", date="2026-11-25", reason="") == 422
    assert (
        await post(
            admin, "city-hall", date="2026-11-25", reason="x", from_time="14:00", until_time="12:00"
        )
        == 422
    )
    assert (
        await post(
            admin,
            "city-hall",
            date="2026-11-25",
            reason="停電",
            from_time="12:00",
            until_time="13:00",
        )
        == 201
    )
    listed = await cloud.client.get(
        "/api/sites/city-hall/closures",
        params={"from": "2026-11-01", "to": "2026-11-30"},
        headers={"Authorization": f"Bearer {tech}"},
    )
    assert [(c["date"], c["reason"]) for c in listed.json()] == [("2026-11-25", "停電")]
    assert date.fromisoformat(listed.json()[0]["date"]).weekday() == 2


async def test_uptime_report_from_recorded_state_changes(cloud: Cloud) -> None:
    from cloud.fleet import service as fleet
    from protocol.v1 import StateMessage

    tokyo = OpeningHours().schedule("city-hall").zone  # type: ignore[union-attr]

    def message(status: str, bd_seq: int, *, will: bool = False) -> StateMessage:
        return StateMessage.model_validate(
            {
                "kiosk_id": "rep-k1",
                "sent_at": "2026-11-18T00:00:00Z",
                "seq": bd_seq,
                "status": status,
                "bd_seq": bd_seq,
                "will": will,
                "site_id": "city-hall",
                "agent_version": "0.1.0",
                "os_version": "x",
            },
            strict=False,
        )

    for status, bd_seq, hour, minute, will in (
        ("online", 1, 8, 0, False),
        ("offline", 1, 12, 0, True),
        ("online", 2, 12, 30, False),
    ):
        async with transaction(cloud.app.state.sessions) as db:
            await fleet.apply_state(
                db=db,
                message=message(status, bd_seq, will=will),
                received_at=datetime(2026, 11, 18, hour, minute, tzinfo=tokyo),
            )
    city = await cloud.token(Role.CITY)
    report = await cloud.client.get(
        "/api/reports/uptime",
        params={"site": "city-hall", "from": "2026-11-18", "to": "2026-11-18"},
        headers={"Authorization": f"Bearer {city}"},
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["scheduled_minutes"] == 690
    window = body["windows"][0]
    assert (window["kiosk_id"], window["serviceable_minutes"]) == ("rep-k1", 660)
    assert [(o["minutes"], o["cause"]) for o in window["outages"]] == [
        (30.0, "接続断（端末の応答なし）")
    ]
    operator = await cloud.token(Role.OPERATOR)
    denied = await cloud.client.get(
        "/api/reports/uptime",
        params={"site": "city-hall", "from": "2026-11-18", "to": "2026-11-18"},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert denied.status_code == 403
