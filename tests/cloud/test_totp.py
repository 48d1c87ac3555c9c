"""The TOTP second factor (RFC 6238) for admin and tech, and session expiry: enrolment,
log-in with a code, replay, lock-out, the admin's reset, the web pages, the idle timeout."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cloud.audit.models import AuditEntry
from cloud.auth import totp
from cloud.auth.config import AuthSettings
from cloud.auth.models import ApiToken, Role, StaffUser
from cloud.db.engine import transaction
from cloud.roles import access_table
from cloud.settings import BrokerSettings, CloudSettings
from tests.cloud.conftest import PASSWORD, Cloud, _running_cloud

MUST_ENROL = frozenset({Role.ADMIN, Role.TECH})


def settings_for(database_url: str) -> CloudSettings:
    return CloudSettings(
        database_url=database_url,
        mqtt=BrokerSettings(enabled=False),
        auth=AuthSettings(totp_required_roles=MUST_ENROL),
    )


@pytest.fixture
async def cloud2fa(database_url: str) -> AsyncIterator[Cloud]:
    """The control plane with the production rule: admin and tech must enrol."""
    async for running in _running_cloud(settings_for(database_url)):
        yield running


@pytest.fixture
async def sqlite_cloud2fa(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for running in _running_cloud(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")):
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(cloud: Cloud, name: str, code: str | None = None) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {"username": name, "password": PASSWORD}
    if code is not None:
        body["totp"] = code
    response = await cloud.client.post("/api/auth/login", json=body)
    cloud.client.cookies.clear()
    return response.status_code, response.json()


class Authenticator:
    """The user's phone: the secret, and the last step it showed (each code used once)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.step = totp.current_step() - 1

    def code(self) -> str:
        self.step = max(self.step + 1, totp.current_step() - 1)
        return totp.code_at(self.secret, self.step)


async def enrolled(cloud: Cloud, role: Role) -> tuple[str, Authenticator, str]:
    """A user of `role` who enrolled: name, authenticator, and the session that confirmed."""
    name = await cloud.make_user(role)
    status, body = await login(cloud, name)
    assert status == 200 and body["totp_enrolment_required"] is True
    token = str(body["token"])
    enrolment = await cloud.client.post("/api/auth/totp/enrol", headers=bearer(token))
    assert enrolment.status_code == 200, enrolment.text
    phone = Authenticator(enrolment.json()["secret"])
    confirm = await cloud.client.post(
        "/api/auth/totp/confirm", json={"code": phone.code()}, headers=bearer(token)
    )
    assert confirm.status_code == 200, confirm.text
    return name, phone, token


async def audit_actions(cloud: Cloud) -> list[str]:
    async with transaction(cloud.app.state.sessions) as db:
        return [e.action for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


async def test_admin_enrols_then_logs_in_with_a_code(cloud2fa: Cloud) -> None:
    name = await cloud2fa.make_user(Role.ADMIN, "admin-2fa")
    status, body = await login(cloud2fa, name)
    assert status == 200 and body["totp_enrolment_required"] is True
    token = str(body["token"])
    # Until enrolled, the session reaches only the enrolment endpoints.
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(token))).status_code == 403
    assert (await cloud2fa.client.get("/api/auth/me", headers=bearer(token))).status_code == 403
    state = await cloud2fa.client.get("/api/auth/totp", headers=bearer(token))
    assert state.json() == {"enrolled": False, "required": True}

    enrolment = await cloud2fa.client.post("/api/auth/totp/enrol", headers=bearer(token))
    assert enrolment.status_code == 200
    shown = enrolment.json()
    assert re.fullmatch(r"[A-Z2-7]{32}", shown["secret"])
    assert shown["otpauth_uri"].startswith("otpauth://totp/madoguchi:admin-2fa?")
    assert "period" not in shown["otpauth_uri"] or "period=30" in shown["otpauth_uri"]
    assert shown["qr_svg"].startswith("<svg") and "</svg>" in shown["qr_svg"]
    phone = Authenticator(shown["secret"])

    wrong = await cloud2fa.client.post(
        "/api/auth/totp/confirm", json={"code": "000000"}, headers=bearer(token)
    )
    assert wrong.status_code == 400
    confirm = await cloud2fa.client.post(
        "/api/auth/totp/confirm", json={"code": phone.code()}, headers=bearer(token)
    )
    assert {k: v for k, v in confirm.json().items() if k != "recovery_codes"} == {
        "enrolled": True,
        "required": True,
    }
    # The confirming session is now a full one.
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(token))).status_code == 200
    again = await cloud2fa.client.post("/api/auth/totp/enrol", headers=bearer(token))
    assert again.status_code == 409  # a confirmed secret is never shown or replaced

    status, body = await login(cloud2fa, name)
    assert status == 401 and "totp_needed" in str(body["detail"])
    code = phone.code()
    status, body = await login(cloud2fa, name, code)
    assert status == 200 and body["totp_enrolment_required"] is False
    user = body["user"]
    assert isinstance(user, dict) and user["totp_enrolled"] is True
    status, _ = await login(cloud2fa, name, code)
    assert status == 401  # the same code again: refused within its window

    actions = await audit_actions(cloud2fa)
    assert {"totp.enrol_started", "totp.confirm_failed", "totp.enrolled"} <= set(actions)
    assert actions.count("login") == 2


async def test_roles_without_the_requirement_log_in_with_a_password(cloud2fa: Cloud) -> None:
    name = await cloud2fa.make_user(Role.OPERATOR)
    status, body = await login(cloud2fa, name)
    assert status == 200 and body["totp_enrolment_required"] is False


async def test_an_enrolment_session_reaches_nothing_else(sqlite_cloud2fa: Cloud) -> None:
    """Walks every route that needs a log-in with a session that has not enrolled yet."""
    cloud = sqlite_cloud2fa
    _, body = await login(cloud, await cloud.make_user(Role.TECH))
    headers = bearer(str(body["token"]))
    allowed = {"/api/auth/totp", "/api/auth/totp/enrol", "/api/auth/totp/confirm"}
    walked = 0
    for access in access_table(cloud.app):
        if access.roles is None or access.method == "WS" or access.path == "/api/auth/logout":
            continue
        path = re.sub(r"\{\w+\}", "1", access.path)
        response = await cloud.client.request(access.method, path, json={}, headers=headers)
        if access.path in allowed:
            assert response.status_code not in (401, 403), access.path
        else:
            assert response.status_code == 403, f"{access.method} {access.path}"
            walked += 1
    assert walked >= 50
    # The pages send it to the enrolment page.
    cloud.client.cookies.set("madoguchi_session", str(body["token"]))
    page = await cloud.client.get("/")
    assert page.status_code == 303
    login_page = await cloud.client.get("/login")
    assert login_page.headers["location"] == "/totp/enrol"
    out = await cloud.client.post("/api/auth/logout", headers=headers)
    assert out.status_code == 204


async def test_wrong_codes_count_toward_the_lock_out(cloud2fa: Cloud) -> None:
    name, phone, _ = await enrolled(cloud2fa, Role.TECH)
    statuses = [(await login(cloud2fa, name, "000000"))[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, _ = await login(cloud2fa, name, phone.code())
    assert status == 401  # locked: even the right password and code
    actions = await audit_actions(cloud2fa)
    assert actions.count("login.totp_failed") == 5 and "login.locked" in actions


async def test_the_secret_is_stored_encrypted_and_never_logged(
    sqlite_cloud2fa: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cloud = sqlite_cloud2fa
    name, phone, token = await enrolled(cloud, Role.ADMIN)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None and user.totp_secret is not None
        assert phone.secret not in user.totp_secret
        key = cloud.app.state.settings.auth.secret_key.get_secret_value()
        assert totp.decrypt_secret(user.totp_secret, secret_key=key) == phone.secret
        assert totp.decrypt_secret(user.totp_secret, secret_key="another key " * 4) is None
        details = [str(e.detail) for e in await db.scalars(select(AuditEntry))]
    assert not any(phone.secret in d for d in details)
    listed = await cloud.client.get("/api/users", headers=bearer(token))
    assert listed.status_code == 200 and phone.secret not in listed.text
    assert phone.secret not in caplog.text


async def test_admin_resets_a_lost_second_factor(cloud2fa: Cloud) -> None:
    name, phone, tech_token = await enrolled(cloud2fa, Role.TECH)
    _, _, admin_token = await enrolled(cloud2fa, Role.ADMIN)
    async with transaction(cloud2fa.app.state.sessions) as db:
        user_id = await db.scalar(select(StaffUser.id).where(StaffUser.username == name))
    denied = await cloud2fa.client.delete(f"/api/users/{user_id}/totp", headers=bearer(tech_token))
    assert denied.status_code == 403
    reset = await cloud2fa.client.delete(f"/api/users/{user_id}/totp", headers=bearer(admin_token))
    assert reset.status_code == 200 and reset.json()["totp_enrolled"] is False
    # The user's sessions ended; the next log-in enrols again.
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(tech_token))).status_code == 401
    status, body = await login(cloud2fa, name, phone.code())
    assert status == 200 and body["totp_enrolment_required"] is True
    missing = await cloud2fa.client.delete("/api/users/999999/totp", headers=bearer(admin_token))
    assert missing.status_code == 404
    assert "totp.reset" in await audit_actions(cloud2fa)


async def test_sessions_end_after_the_idle_timeout(cloud2fa: Cloud) -> None:
    name = await cloud2fa.make_user(Role.CITY)
    tokens = [str((await login(cloud2fa, name))[1]["token"]) for _ in range(2)]

    async def idle(token: str, minutes: int) -> None:
        async with transaction(cloud2fa.app.state.sessions) as db:
            row = await db.get(ApiToken, _hash(token))
            assert row is not None and row.last_used_at is not None
            assert row.idle_timeout_s == 30 * 60
            row.last_used_at -= timedelta(minutes=minutes)
            row.created_at -= timedelta(minutes=minutes)

    await idle(tokens[0], 31)
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(tokens[0]))).status_code == 401
    # Use moves the clock on: 20 + 20 idle minutes with a request between stay signed in.
    await idle(tokens[1], 20)
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(tokens[1]))).status_code == 200
    await idle(tokens[1], 20)
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(tokens[1]))).status_code == 200
    # The absolute lifetime still holds, however busy the session.
    async with transaction(cloud2fa.app.state.sessions) as db:
        await db.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == _hash(tokens[1]))
            .values(expires_at=ApiToken.created_at)
        )
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(tokens[1]))).status_code == 401


def _hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


async def test_the_web_login_sends_a_tech_to_enrol_and_then_asks_for_the_code(
    sqlite_cloud2fa: Cloud,
) -> None:
    cloud = sqlite_cloud2fa
    name = await cloud.make_user(Role.TECH)
    form = {"username": name, "password": PASSWORD}
    first = await cloud.client.post("/login", data=form)
    assert first.status_code == 303 and first.headers["location"] == "/totp/enrol"
    assert (await cloud.client.get("/api/kiosks")).status_code == 403
    page = await cloud.client.get("/totp/enrol")
    assert page.status_code == 200 and "<svg" in page.text and "二段階認証の登録" in page.text
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", page.text)
    assert secret is not None
    reloaded = await cloud.client.get("/totp/enrol")
    assert secret.group(1) in reloaded.text  # the pending secret, not a new one
    phone = Authenticator(secret.group(1))
    wrong = await cloud.client.post("/totp/confirm", data={"code": "000000"})
    assert wrong.status_code == 400 and "正しくない" in wrong.text
    done = await cloud.client.post("/totp/confirm", data={"code": phone.code()})
    assert done.status_code == 200 and "回復コード" in done.text  # shown once, then on to /
    assert (await cloud.client.get("/")).status_code == 200
    assert secret.group(1) not in (await cloud.client.get("/totp/enrol")).text
    await cloud.client.post("/logout")

    no_code = await cloud.client.post("/login", data=form)
    assert no_code.status_code == 401 and "確認コード" in no_code.text
    with_code = await cloud.client.post("/login", data={**form, "totp": phone.code()})
    assert with_code.status_code == 303 and with_code.headers["location"] == "/"
    assert (await cloud.client.get("/api/kiosks")).status_code == 200


def test_codes_are_accepted_one_step_either_side_and_only_once() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    step = totp.current_step(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(secret, step + offset)
        assert totp.matching_step(secret, code, last_step=None, now=now) == step + offset
        assert totp.matching_step(secret, code, last_step=step + offset, now=now) is None
    for offset in (-2, 2):
        code = totp.code_at(secret, step + offset)
        assert totp.matching_step(secret, code, last_step=None, now=now) is None
    older = totp.code_at(secret, step - 1)
    assert totp.matching_step(secret, older, last_step=step, now=now) is None
    assert totp.matching_step(secret, "12345", last_step=None, now=now) is None
    assert totp.matching_step(secret, "abcdef", last_step=None, now=now) is None


def test_production_needs_a_secret_key_and_the_second_factor() -> None:
    assert AuthSettings().totp_roles(production=False) == frozenset()
    assert AuthSettings().totp_roles(production=True) == MUST_ENROL
    problems = AuthSettings(totp_required_roles=frozenset({Role.ADMIN})).production_problems()
    assert any("secret_key" in p for p in problems)
    assert any("admin and tech" in p for p in problems)
    good = AuthSettings(secret_key="k" * 40)
    assert good.production_problems() == []
