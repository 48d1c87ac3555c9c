"""The shift roster and its coverage: the forecast over a month with national holidays, the
2nd Sunday, the 3rd Saturday and typhoon closures; roles; the live coverage alert."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cloud.alerts.models import Alert
from cloud.auth.models import Role
from cloud.db.engine import transaction
from tests.cloud.conftest import Cloud
from tests.cloud.test_registry import apply, state

JST = ZoneInfo("Asia/Tokyo")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add(
    cloud: Cloud, admin: str, user: str, day: date, start: str, end: str, site: str | None = None
) -> int:
    body: dict[str, object] = {"username": user, "date": day.isoformat(), "start": start}
    body |= {"end": end, "site_id": site}
    response = await cloud.client.post("/api/shifts", json=body, headers=auth(admin))
    assert response.status_code == 201, response.text
    shift_id: int = response.json()["id"]
    return shift_id


async def test_coverage_forecast_over_a_month_of_special_days(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    city = await cloud.token(Role.CITY)
    op1 = await cloud.make_user(Role.OPERATOR, "op-a")
    op2 = await cloud.make_user(Role.OPERATOR, "op-b")
    support = await cloud.make_user(Role.SUPPORT, "sup-a")
    # A typhoon: closed all day on the 17th, and from noon on the 10th.
    for closure in (
        {"date": "2026-11-17", "reason": "暴風警報"},
        {"date": "2026-11-10", "from_time": "12:00", "reason": "暴風警報"},
    ):
        response = await cloud.client.post(
            "/api/sites/city-hall/closures", json=closure, headers=auth(city)
        )
        assert response.status_code == 201, response.text

    # November 2026: holidays on the 3rd (Tue) and 23rd (Mon); the 2nd Sunday is the 8th
    # and the 3rd Saturday the 21st. Nobody is rostered on a closed day.
    day = date(2026, 11, 1)
    while day.month == 11:
        closed = day.weekday() >= 5 or day in (date(2026, 11, 3), date(2026, 11, 23))
        if not closed and day != date(2026, 11, 17):
            end = "20:00" if day.weekday() == 2 else "17:15"
            await add(cloud, admin, op1, day, "08:30", end)
            if day == date(2026, 11, 12):
                await add(cloud, admin, op2, day, "08:30", "14:00")  # second window uncovered
            else:
                await add(cloud, admin, op2, day, "08:30", end)
            if day == date(2026, 11, 10):
                await add(cloud, admin, support, day, "08:30", "10:00", "city-hall")
            elif day == date(2026, 11, 4):
                # Off for the lunch break, which is not required coverage.
                await add(cloud, admin, support, day, "08:30", "12:00", "city-hall")
                await add(cloud, admin, support, day, "13:00", "20:00", "city-hall")
            else:
                await add(cloud, admin, support, day, "08:30", end, "city-hall")
        day += timedelta(days=1)
    saturday, sunday = date(2026, 11, 21), date(2026, 11, 8)
    for user in (op1, op2):
        await add(cloud, admin, user, saturday, "09:00", "16:00")
    await add(cloud, admin, support, saturday, "09:00", "16:00", "city-hall")
    await add(cloud, admin, op1, sunday, "09:00", "16:00")  # one operator for two windows
    await add(cloud, admin, support, sunday, "09:00", "12:00", "city-hall")
    await add(cloud, admin, support, sunday, "13:00", "16:00", "city-hall")

    response = await cloud.client.get(
        "/api/shifts/coverage",
        params={"site": "city-hall", "from": "2026-11-01", "to": "2026-11-30"},
        headers=auth(city),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["windows"] == 2  # no kiosk registered yet: the contract's two windows
    gaps = [
        (g["start"], g["end"], g["minutes"], g["missing"], g["on_shift"], g["needed"])
        for g in body["gaps"]
    ]
    assert gaps == [
        ("2026-11-08T09:00:00+09:00", "2026-11-08T16:00:00+09:00", 420, "operator", 1, 2),
        ("2026-11-10T10:00:00+09:00", "2026-11-10T12:00:00+09:00", 120, "support", 0, 1),
        ("2026-11-12T14:00:00+09:00", "2026-11-12T17:15:00+09:00", 195, "operator", 1, 2),
    ]
    assert body["gap_minutes"] == 735 and body["covered"] is False
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 30
    assert days["2026-11-03"]["open"] is False
    assert days["2026-11-03"]["reason"].startswith("national_holiday")
    assert days["2026-11-17"]["open"] is False and "暴風警報" in days["2026-11-17"]["reason"]
    assert days["2026-11-10"]["closes"] == "12:00"
    assert days["2026-11-01"]["open"] is False and days["2026-11-07"]["open"] is False
    assert days["2026-11-21"]["open"] is True and days["2026-11-21"]["covered"] is True
    assert days["2026-11-04"]["covered"] is True  # the support break is no gap
    assert [e["username"] for e in days["2026-11-04"]["support"]] == [support, support]
    assert [d for d, v in days.items() if not v["covered"]] == [
        "2026-11-08",
        "2026-11-10",
        "2026-11-12",
    ]
    # No coverage is needed on a closed day, rostered or not.
    assert all(d["covered"] for d in days.values() if not d["open"])


async def test_support_break_and_windows_from_the_registry(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    op1 = await cloud.make_user(Role.OPERATOR, "op-c")
    support = await cloud.make_user(Role.SUPPORT, "sup-c")
    for kiosk in ("sh-k1", "sh-k2", "sh-k3"):  # three windows registered at city hall
        await apply(cloud, state("online", 1, kiosk=kiosk))
    monday = date(2026, 12, 7)
    await add(cloud, admin, op1, monday, "08:30", "17:15")
    await add(cloud, admin, support, monday, "09:00", "11:00", "city-hall")
    await add(cloud, admin, support, monday, "12:00", "16:00", "city-hall")
    response = await cloud.client.get(
        "/api/shifts/coverage",
        params={"site": "city-hall", "from": "2026-12-07", "to": "2026-12-07"},
        headers=auth(admin),
    )
    body = response.json()
    assert body["windows"] == 3
    assert [
        (g["start"][11:16], g["end"][11:16], g["missing"], g["on_shift"], g["needed"])
        for g in body["gaps"]
    ] == [
        ("08:30", "17:15", "operator", 1, 3),
        ("08:30", "09:00", "support", 0, 1),
        ("11:00", "12:00", "support", 0, 1),
        ("16:00", "17:15", "support", 0, 1),
    ]


async def test_roster_roles_and_rules(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    city = await cloud.token(Role.CITY)
    operator = await cloud.make_user(Role.OPERATOR, "op-d")
    other = await cloud.make_user(Role.OPERATOR, "op-e")
    support_name = await cloud.make_user(Role.SUPPORT, "sup-d")
    day = date(2026, 12, 8)
    mine = await add(cloud, admin, operator, day, "08:30", "12:00")
    await add(cloud, admin, other, day, "08:30", "17:15")
    await add(cloud, admin, support_name, day, "08:30", "17:15", "city-hall")

    login = await cloud.client.post(
        "/api/auth/login", json={"username": operator, "password": "correct horse battery"}
    )
    op_token = login.json()["token"]
    params = {"from": "2026-12-01", "to": "2026-12-31"}
    own = await cloud.client.get("/api/shifts", params=params, headers=auth(op_token))
    assert [(s["id"], s["username"], s["site_id"]) for s in own.json()] == [(mine, operator, None)]
    everyone = await cloud.client.get("/api/shifts", params=params, headers=auth(city))
    assert sorted(s["username"] for s in everyone.json()) == sorted([operator, other, support_name])
    body = {"username": other, "date": "2026-12-09", "start": "08:30", "end": "12:00"}
    for token in (op_token, city):
        assert (
            await cloud.client.post("/api/shifts", json=body, headers=auth(token))
        ).status_code == 403
        denied = await cloud.client.delete(f"/api/shifts/{mine}", headers=auth(token))
        assert denied.status_code == 403
    coverage = await cloud.client.get("/api/shifts/coverage", headers=auth(op_token))
    assert coverage.status_code == 403

    async def post(**fields: object) -> int:
        return (
            await cloud.client.post("/api/shifts", json=fields, headers=auth(admin))
        ).status_code

    city_user = await cloud.make_user(Role.CITY, "city-x")
    assert await post(username=city_user, date="2026-12-09", start="08:30", end="12:00") == 422
    assert await post(username=support_name, date="2026-12-09", start="08:30", end="12:00") == 422
    assert await post(username=other, date="2026-12-09", start="12:00", end="08:30") == 422
    assert await post(username="nobody", date="2026-12-09", start="08:30", end="12:00") == 422
    assert await post(username=other, date="2026-12-08", start="16:00", end="18:00") == 409
    assert await post(username=other, date="2026-12-08", start="17:15", end="18:00") == 201

    removed = await cloud.client.delete(f"/api/shifts/{mine}", headers=auth(admin))
    assert removed.status_code == 204
    again = await cloud.client.delete(f"/api/shifts/{mine}", headers=auth(admin))
    assert again.status_code == 404
    own = await cloud.client.get("/api/shifts", params=params, headers=auth(op_token))
    assert own.json() == []


async def coverage_alerts(cloud: Cloud) -> list[tuple[str, str, str, bool]]:
    async with transaction(cloud.app.state.sessions) as db:
        rows = await db.scalars(
            select(Alert).where(Alert.kind == "coverage_gap").order_by(Alert.id)
        )
        return [(a.site_id, a.severity, a.detail, a.resolved_at is None) for a in rows]


async def test_live_coverage_alert_raised_and_resolved(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    op1 = await cloud.make_user(Role.OPERATOR, "op-f")
    op2 = await cloud.make_user(Role.OPERATOR, "op-g")
    support = await cloud.make_user(Role.SUPPORT, "sup-f")
    for kiosk in ("live-k1", "live-k2"):
        await apply(cloud, state("online", 1, kiosk=kiosk))
    evaluator = cloud.app.state.alerts  # the app's evaluator, with the real calendar

    def at(hh: int, mm: int, day: date = date(2026, 12, 2)) -> datetime:
        return datetime.combine(day, time(hh, mm), JST)

    # No roster kept yet: nothing to compare, no alert.
    await evaluator.evaluate(now=at(10, 0))
    assert await coverage_alerts(cloud) == []

    wednesday = date(2026, 12, 2)
    await add(cloud, admin, op1, wednesday, "08:30", "20:00")
    sup = await add(cloud, admin, support, wednesday, "08:30", "20:00", "city-hall")
    await evaluator.evaluate(now=at(10, 0))
    assert await coverage_alerts(cloud) == [
        ("city-hall", "critical", "シフト不足: 勤務中のオペレータ 1 人（必要 2 人）", True)
    ]
    await evaluator.evaluate(now=at(10, 1))  # still short: the same alert stays open
    assert len(await coverage_alerts(cloud)) == 1

    await add(cloud, admin, op2, wednesday, "08:30", "20:00")
    await evaluator.evaluate(now=at(10, 5))
    assert [a[3] for a in await coverage_alerts(cloud)] == [False]  # resolved

    removed = await cloud.client.delete(f"/api/shifts/{sup}", headers=auth(admin))
    assert removed.status_code == 204
    await evaluator.evaluate(now=at(12, 30))  # the support break: nobody needed
    assert len(await coverage_alerts(cloud)) == 1
    await evaluator.evaluate(now=at(13, 0))
    alerts = await coverage_alerts(cloud)
    assert alerts[-1] == ("city-hall", "warning", "シフト不足: 勤務中の支援員がいません", True)
    await add(cloud, admin, support, wednesday, "13:30", "20:00", "city-hall")
    await evaluator.evaluate(now=at(13, 30))
    assert [a[3] for a in await coverage_alerts(cloud)] == [False, False]

    # Closed: after hours, and on a holiday, nobody on shift raises nothing.
    await evaluator.evaluate(now=at(20, 0))
    await evaluator.evaluate(now=at(10, 0, date(2026, 12, 5)))  # 1st Saturday
    assert [a[3] for a in await coverage_alerts(cloud)] == [False, False]
    # Open on the 2nd Sunday with nobody rostered: an alert, resolved once closed.
    await evaluator.evaluate(now=at(9, 0, date(2026, 12, 13)))
    assert (await coverage_alerts(cloud))[-1][1:] == (
        "critical",
        "シフト不足: 勤務中のオペレータ 0 人（必要 2 人）、勤務中の支援員がいません",
        True,
    )
    await evaluator.evaluate(now=at(16, 0, date(2026, 12, 13)))
    assert (await coverage_alerts(cloud))[-1][3] is False
