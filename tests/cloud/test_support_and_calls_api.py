"""The support staff's cases and the call records, through the API with each role."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.routing import service
from tests.cloud.conftest import Cloud
from tests.cloud.test_routing import T0, operator, queue_call

# Routing is stepped by the tests at fixed times, not by the app's background pass.
pytestmark = pytest.mark.usefixtures("routing_stepped_by_test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_support_staff_record_cases_and_the_city_reads_them(cloud: Cloud) -> None:
    support = await cloud.token(Role.SUPPORT)
    city = await cloud.token(Role.CITY)
    op = await cloud.token(Role.OPERATOR)
    case = {"site_id": "city-hall", "procedure": "health_insurance", "outcome": "completed"}
    created = await cloud.client.post("/api/support/cases", json=case, headers=bearer(support))
    assert created.status_code == 201, created.text
    assert created.json()["procedure"] == "health_insurance"
    denied = await cloud.client.post("/api/support/cases", json=case, headers=bearer(op))
    assert denied.status_code == 403
    bad = await cloud.client.post(
        "/api/support/cases", json={**case, "outcome": "not_completed"}, headers=bearer(support)
    )
    assert bad.status_code == 422 and "reason" in bad.text
    nosy = await cloud.client.post(
        "/api/support/cases", json={**case, "resident_name": "x"}, headers=bearer(support)
    )
    assert nosy.status_code == 422  # no field for personal data exists
    listed = await cloud.client.get("/api/support/cases", headers=bearer(city))
    assert [c["outcome"] for c in listed.json()] == ["completed"]
    cloud.client.cookies.clear()  # logging in through the client left a session cookie
    assert (await cloud.client.get("/api/support/cases")).status_code == 401


async def test_operators_see_only_their_own_calls(cloud: Cloud) -> None:
    mine = await operator(cloud, "op-mine", available_at=T0)
    await operator(cloud, "op-other", available_at=T0 + timedelta(seconds=1))
    first = await queue_call(cloud, "k-api-1", T0)
    await queue_call(cloud, "k-api-2", T0 + timedelta(seconds=1))
    async with transaction(cloud.app.state.sessions) as db:
        await service.accept(db=db, user=mine, call_id=first, now=T0)
    login = await cloud.client.post(
        "/api/auth/login", json={"username": "op-mine", "password": "correct horse battery"}
    )
    token = login.json()["token"]
    own = await cloud.client.get("/api/calls", headers=bearer(token))
    assert [c["call_id"] for c in own.json()] == [first]
    assert "kiosk_offer" not in own.json()[0]  # signaling never leaves through the API
    admin = await cloud.token(Role.ADMIN)
    assert len((await cloud.client.get("/api/calls", headers=bearer(admin))).json()) == 2
    tech = await cloud.token(Role.TECH)
    assert (await cloud.client.get("/api/calls", headers=bearer(tech))).status_code == 403
    queue = await cloud.client.get("/api/queue", headers=bearer(token))
    assert [w["kiosk_id"] for w in queue.json()] == ["k-api-2"]
