"""Staff authentication and role checks on the real app and database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import ApiToken, Role, StaffUser
from cloud.auth.service import issue_token
from cloud.db.engine import transaction
from cloud.roles import PUBLIC
from cloud.settings import BrokerSettings, CloudSettings
from tests.cloud.conftest import PASSWORD, Cloud, _running_cloud


async def test_login_returns_a_token_that_opens_the_api(cloud: Cloud) -> None:
    token = await cloud.token(Role.TECH, "tech-a")
    me = await cloud.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "tech-a" and me.json()["role"] == "tech"


async def test_failed_logins_do_not_say_whether_the_user_exists(cloud: Cloud) -> None:
    await cloud.make_user(Role.OPERATOR, "op-a")
    wrong_password = await cloud.client.post(
        "/api/auth/login", json={"username": "op-a", "password": "not the password"}
    )
    no_such_user = await cloud.client.post(
        "/api/auth/login", json={"username": "nobody", "password": PASSWORD}
    )
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json() == no_such_user.json()


async def test_passwords_and_tokens_are_stored_only_as_hashes(cloud: Cloud) -> None:
    token = await cloud.token(Role.CITY, "city-a")
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == "city-a"))
        stored = list(await db.scalars(select(ApiToken.token_hash)))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert token not in stored and len(stored) == 1


async def test_logout_revokes_the_token(cloud: Cloud) -> None:
    token = await cloud.token(Role.SUPPORT)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await cloud.client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await cloud.client.get("/api/kiosks", headers=headers)).status_code == 401


async def test_expired_token_is_refused(cloud: Cloud) -> None:
    name = await cloud.make_user(Role.TECH)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        token, _ = await issue_token(db=db, user=user, ttl=timedelta(seconds=-1))
    response = await cloud.client.get("/api/kiosks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_only_admins_create_accounts(cloud: Cloud) -> None:
    body = {
        "username": "new-op",
        "display_name": "新人",
        "role": "operator",
        "password": "a long enough secret",
    }
    operator = await cloud.token(Role.OPERATOR)
    denied = await cloud.client.post(
        "/api/users", json=body, headers={"Authorization": f"Bearer {operator}"}
    )
    assert denied.status_code == 403
    admin = await cloud.token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {admin}"}
    created = await cloud.client.post("/api/users", json=body, headers=headers)
    assert created.status_code == 201 and created.json()["role"] == "operator"
    assert "password" not in created.text
    again = await cloud.client.post("/api/users", json=body, headers=headers)
    assert again.status_code == 409
    weak = await cloud.client.post(
        "/api/users", json={**body, "username": "weak-op", "password": "short"}, headers=headers
    )
    assert weak.status_code == 422
    bad_role = await cloud.client.post(
        "/api/users", json={**body, "username": "x-op", "role": "root"}, headers=headers
    )
    assert bad_role.status_code == 422


async def test_disabled_account_cannot_log_in(cloud: Cloud) -> None:
    name = await cloud.make_user(Role.TECH)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        user.disabled = True
    response = await cloud.client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_every_api_route_refuses_anonymous_requests(sqlite_cloud: Cloud) -> None:
    """Walks the OpenAPI document, so a new endpoint is checked the day it is added."""
    checked = 0
    for path, operations in sqlite_cloud.app.openapi()["paths"].items():
        concrete = path.replace("{kiosk_id}", "city-hall-01")
        for method in operations:
            if (method.upper(), path) in PUBLIC:  # deliberately public (cloud/roles.py)
                continue
            response = await sqlite_cloud.client.request(method.upper(), concrete)
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
            checked += 1
    assert checked >= 6


async def test_metrics_are_for_tech_and_admin_only(sqlite_cloud: Cloud) -> None:
    operator = await sqlite_cloud.token(Role.OPERATOR)
    tech = await sqlite_cloud.token(Role.TECH)
    denied = await sqlite_cloud.client.get(
        "/metrics", headers={"Authorization": f"Bearer {operator}"}
    )
    assert denied.status_code == 403
    allowed = await sqlite_cloud.client.get("/metrics", headers={"Authorization": f"Bearer {tech}"})
    assert allowed.status_code == 200
    assert "madoguchi_mqtt_messages_rejected_total" in allowed.text or (
        "madoguchi_mqtt_connected" in allowed.text
    )


async def test_healthz_is_public_and_reports_parts(sqlite_cloud: Cloud) -> None:
    response = await sqlite_cloud.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": "disabled"}


async def test_repeated_failures_lock_the_account_for_a_while(cloud: Cloud) -> None:
    name = await cloud.make_user(Role.ADMIN, "admin-lock")

    async def attempt(password: str) -> int:
        response = await cloud.client.post(
            "/api/auth/login", json={"username": name, "password": password}
        )
        return response.status_code

    assert [await attempt("wrong password!") for _ in range(5)] == [401] * 5
    assert await attempt(PASSWORD) == 401  # locked: even the right password is refused
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None and user.locked_until is not None
        actions = [e.action for e in await db.scalars(select(AuditEntry))]
        user.locked_until = user.locked_until - timedelta(minutes=16)  # time passes
    assert "login.locked" in actions
    assert await attempt(PASSWORD) == 200


async def test_pages_and_api_carry_security_headers(sqlite_cloud: Cloud) -> None:
    page = await sqlite_cloud.client.get("/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    api = await sqlite_cloud.client.get("/healthz")
    assert api.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in api.headers  # plain HTTP in development


async def test_cross_site_posts_with_the_session_cookie_are_refused(sqlite_cloud: Cloud) -> None:
    name = await sqlite_cloud.make_user(Role.CITY, "csrf-city")
    login = await sqlite_cloud.client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )
    assert login.status_code == 200 and "madoguchi_session" in sqlite_cloud.client.cookies
    closure = {"date": "2026-12-01", "reason": "暴風警報"}
    forged = await sqlite_cloud.client.post(
        "/api/sites/city-hall/closures", json=closure, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403 and "cross-site" in forged.text
    own = await sqlite_cloud.client.post(
        "/api/sites/city-hall/closures", json=closure, headers={"Origin": "http://testserver"}
    )
    assert own.status_code == 201, own.text
    # A bearer-token client sends no cookie: not affected by the Origin rule.
    sqlite_cloud.client.cookies.clear()
    token = login.json()["token"]
    cli = await sqlite_cloud.client.post(
        "/api/sites/city-hall/closures",
        json={**closure, "date": "2026-12-02"},
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
    )
    assert cli.status_code == 201


async def test_log_in_attempts_are_rate_limited_per_address(tmp_path: Path) -> None:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'rl.db'}",
        mqtt=BrokerSettings(enabled=False),
        login_attempts_per_minute=3,
    )
    async for cloud in _running_cloud(settings):
        codes = [
            (
                await cloud.client.post(
                    "/api/auth/login", json={"username": f"u{i}", "password": "wrong password"}
                )
            ).status_code
            for i in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        page = await cloud.client.post("/login", data={"username": "x", "password": "y"})
        assert page.status_code == 429 and page.headers["retry-after"] == "60"
