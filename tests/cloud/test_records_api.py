"""Attendance, inspections and incidents through the API, with each role."""

from __future__ import annotations

from cloud.auth.models import Role
from tests.cloud.conftest import Cloud


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_support_staff_record_their_own_days_once(cloud: Cloud) -> None:
    support = await cloud.token(Role.SUPPORT, "sup-a")
    await cloud.make_user(Role.SUPPORT, "sup-b")
    admin = await cloud.token(Role.ADMIN)
    operator = await cloud.token(Role.OPERATOR)
    day = {"site_id": "city-hall", "day": "2026-11-02"}
    assert (
        await cloud.client.post("/api/attendance", json=day, headers=bearer(support))
    ).status_code == 201
    again = await cloud.client.post("/api/attendance", json=day, headers=bearer(support))
    assert again.status_code == 409
    other = await cloud.client.post(
        "/api/attendance", json={**day, "username": "sup-b"}, headers=bearer(support)
    )
    assert other.status_code == 403  # not someone else's day
    by_admin = await cloud.client.post(
        "/api/attendance", json={**day, "username": "sup-b"}, headers=bearer(admin)
    )
    assert by_admin.status_code == 201
    future = await cloud.client.post(
        "/api/attendance", json={**day, "day": "2099-01-01"}, headers=bearer(support)
    )
    assert future.status_code == 422
    denied = await cloud.client.post("/api/attendance", json=day, headers=bearer(operator))
    assert denied.status_code == 403
    listed = await cloud.client.get(
        "/api/attendance", params={"site": "city-hall", "month": "2026-11"}, headers=bearer(admin)
    )
    assert len(listed.json()) == 2


async def test_inspections_are_for_techs_and_serious_incidents_need_a_plan(cloud: Cloud) -> None:
    tech = await cloud.token(Role.TECH)
    city = await cloud.token(Role.CITY)
    inspection = {
        "site_id": "city-hall",
        "kiosk_id": "city-hall-01",
        "inspected_on": "2026-11-17",
        "checklist": {"camera": "ok", "card_reader": "ng"},
        "notes": "カードリーダー接点清掃",
    }
    made = await cloud.client.post("/api/inspections", json=inspection, headers=bearer(tech))
    assert made.status_code == 201 and made.json()["result"] == "ng"
    assert (
        await cloud.client.post("/api/inspections", json=inspection, headers=bearer(city))
    ).status_code == 403
    bad_item = {**inspection, "checklist": {"camera": "fine"}}
    assert (
        await cloud.client.post("/api/inspections", json=bad_item, headers=bearer(tech))
    ).status_code == 422
    incident = {
        "site_id": "city-hall",
        "occurred_at": "2026-11-06T14:00:00+09:00",
        "kind": "complaint",
        "severity": "serious",
        "summary": "通話が途中で切れた",
    }
    no_plan = await cloud.client.post("/api/incidents", json=incident, headers=bearer(city))
    assert no_plan.status_code == 422 and "prevention plan" in no_plan.text
    with_plan = await cloud.client.post(
        "/api/incidents",
        json={**incident, "prevention_plan": "回線を二重化する"},
        headers=bearer(city),
    )
    assert with_plan.status_code == 201
    listed = await cloud.client.get(
        "/api/incidents", params={"site": "city-hall", "month": "2026-11"}, headers=bearer(tech)
    )
    assert [i["summary"] for i in listed.json()] == ["通話が途中で切れた"]
    outside = await cloud.client.get(
        "/api/incidents", params={"site": "city-hall", "month": "2026-10"}, headers=bearer(tech)
    )
    assert outside.json() == []
