"""TOTP recovery codes: shown once at enrolment, hashed at rest, each good for one log-in,
regenerated with the password and a current code, every use audited, wrong codes counted
toward the lock-out; the log-in page takes them too."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from cloud.auth import recovery
from cloud.auth.models import RecoveryCode, Role, StaffUser
from cloud.db.engine import transaction
from tests.cloud.conftest import PASSWORD, Cloud
from tests.cloud.test_totp import (  # noqa: F401 - fixtures
    Authenticator,
    audit_actions,
    bearer,
    cloud2fa,
    sqlite_cloud2fa,
)

CODE = re.compile(r"^[a-z2-7]{5}-[a-z2-7]{5}$")


async def enrol_with_codes(cloud: Cloud, role: Role) -> tuple[str, Authenticator, list[str]]:
    name = await cloud.make_user(role)
    response = await cloud.client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )
    cloud.client.cookies.clear()
    token = response.json()["token"]
    enrolment = await cloud.client.post("/api/auth/totp/enrol", headers=bearer(token))
    phone = Authenticator(enrolment.json()["secret"])
    confirm = await cloud.client.post(
        "/api/auth/totp/confirm", json={"code": phone.code()}, headers=bearer(token)
    )
    assert confirm.status_code == 200, confirm.text
    codes: list[str] = confirm.json()["recovery_codes"]
    return name, phone, codes


async def log_in(cloud: Cloud, name: str, **extra: str) -> tuple[int, dict[str, object]]:
    response = await cloud.client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD, **extra}
    )
    cloud.client.cookies.clear()
    return response.status_code, response.json()


async def test_a_recovery_code_replaces_the_totp_code_once(cloud2fa: Cloud) -> None:  # noqa: F811
    name, _, codes = await enrol_with_codes(cloud2fa, Role.ADMIN)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(CODE.fullmatch(code) for code in codes)

    status, body = await log_in(cloud2fa, name, recovery_code=codes[3])
    assert status == 200 and body["totp_enrolment_required"] is False
    token = str(body["token"])
    assert (await cloud2fa.client.get("/api/kiosks", headers=bearer(token))).status_code == 200
    left = await cloud2fa.client.get("/api/auth/recovery-codes", headers=bearer(token))
    assert left.json() == {"left": 9}
    # Used up: the same code again is refused; another works (typed in capitals, no hyphen).
    status, _ = await log_in(cloud2fa, name, recovery_code=codes[3])
    assert status == 401
    status, _ = await log_in(cloud2fa, name, recovery_code=codes[4].replace("-", "").upper())
    assert status == 200
    left = await cloud2fa.client.get("/api/auth/recovery-codes", headers=bearer(token))
    assert left.json() == {"left": 8}

    actions = await audit_actions(cloud2fa)
    assert actions.count("login.recovery_code_used") == 2
    assert actions.count("login.recovery_code_failed") == 1
    # Malformed codes are refused by the API's validation, before any lookup.
    status, _ = await log_in(cloud2fa, name, recovery_code="not a code!")
    assert status == 422


async def test_codes_are_stored_as_argon2_hashes_only(
    sqlite_cloud2fa: Cloud,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cloud = sqlite_cloud2fa
    name, _, codes = await enrol_with_codes(cloud, Role.TECH)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        rows = list(await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)))
        from cloud.audit.models import AuditEntry

        details = " ".join(str(e.detail) for e in await db.scalars(select(AuditEntry)))
    assert len(rows) == 10
    stored = " ".join(row.code_hash for row in rows)
    assert all(row.code_hash.startswith("$argon2id$") for row in rows)
    for code in codes:
        raw = code.replace("-", "")
        assert raw not in stored and code not in stored
        assert raw not in details and raw not in caplog.text
    raw0 = recovery.normalise(codes[0])
    assert raw0 is not None and any(recovery.matches(row.code_hash, raw0) for row in rows)


async def test_regenerating_needs_the_password_and_a_current_code(cloud2fa: Cloud) -> None:  # noqa: F811
    name, phone, old = await enrol_with_codes(cloud2fa, Role.ADMIN)
    # The session from a recovery code: the phone's next code is kept for the regeneration
    # (codes are accepted one step either side of now, each once).
    status, body = await log_in(cloud2fa, name, recovery_code=old[5])
    assert status == 200
    token = str(body["token"])

    async def regenerate(password: str, code: str) -> tuple[int, dict[str, object]]:
        response = await cloud2fa.client.post(
            "/api/auth/recovery-codes",
            json={"password": password, "totp": code},
            headers=bearer(token),
        )
        return response.status_code, response.json()

    status, _ = await regenerate("wrong password 123", "123456")
    assert status == 403
    status, _ = await regenerate(PASSWORD, "000000")
    assert status == 403
    status, body = await regenerate(PASSWORD, phone.code())
    assert status == 200, body
    new = body["recovery_codes"]
    assert isinstance(new, list) and len(new) == 10 and not set(new) & set(old)
    # The old set is dead; the new one works.
    status, _ = await log_in(cloud2fa, name, recovery_code=old[0])
    assert status == 401
    status, _ = await log_in(cloud2fa, name, recovery_code=str(new[0]))
    assert status == 200
    actions = await audit_actions(cloud2fa)
    assert actions.count("totp.recovery_codes_refused") == 2
    assert actions.count("totp.recovery_codes_regenerated") == 1
    # A session without a login is refused outright.
    anonymous = await cloud2fa.client.post(
        "/api/auth/recovery-codes", json={"password": PASSWORD, "totp": "123456"}
    )
    assert anonymous.status_code == 401


async def test_wrong_recovery_codes_count_toward_the_lock_out(cloud2fa: Cloud) -> None:  # noqa: F811
    name, phone, codes = await enrol_with_codes(cloud2fa, Role.TECH)
    wrong = "aaaaa-aaaaa"
    assert wrong not in codes
    statuses = [(await log_in(cloud2fa, name, recovery_code=wrong))[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, _ = await log_in(cloud2fa, name, recovery_code=codes[0])
    assert status == 401  # locked: even a good code
    status, _ = await log_in(cloud2fa, name, totp=phone.code())
    assert status == 401
    actions = await audit_actions(cloud2fa)
    assert actions.count("login.recovery_code_failed") == 5 and "login.locked" in actions
    # The good code was not used up by the refused attempt.
    async with transaction(cloud2fa.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        used = await db.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None)
            )
        )
        assert list(used) == []


async def test_an_admin_reset_removes_the_codes(cloud2fa: Cloud) -> None:  # noqa: F811
    name, _, codes = await enrol_with_codes(cloud2fa, Role.TECH)
    admin_name, admin_phone, _ = await enrol_with_codes(cloud2fa, Role.ADMIN)
    status, body = await log_in(cloud2fa, admin_name, totp=admin_phone.code())
    assert status == 200, body
    async with transaction(cloud2fa.app.state.sessions) as db:
        user_id = await db.scalar(select(StaffUser.id).where(StaffUser.username == name))
    reset = await cloud2fa.client.delete(
        f"/api/users/{user_id}/totp", headers=bearer(str(body["token"]))
    )
    assert reset.status_code == 200
    async with transaction(cloud2fa.app.state.sessions) as db:
        left = list(await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)))
    assert left == []
    # With no second factor the code is not asked for: the tech enrols again.
    status, body = await log_in(cloud2fa, name, recovery_code=codes[0])
    assert status == 200 and body["totp_enrolment_required"] is True


async def test_the_pages_show_the_codes_once_and_take_one_at_log_in(
    sqlite_cloud2fa: Cloud,  # noqa: F811
) -> None:
    cloud = sqlite_cloud2fa
    name = await cloud.make_user(Role.ADMIN)
    form = {"username": name, "password": PASSWORD}
    assert (await cloud.client.post("/login", data=form)).headers["location"] == "/totp/enrol"
    page = await cloud.client.get("/totp/enrol")
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", page.text)
    assert secret is not None
    phone = Authenticator(secret.group(1))
    done = await cloud.client.post("/totp/confirm", data={"code": phone.code()})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", done.text)
    assert len(codes) == 10
    enrolled = await cloud.client.get("/totp/enrol")
    assert not any(code in enrolled.text for code in codes)  # never shown again
    assert re.search(r'id="codes-left">10<', enrolled.text)
    await cloud.client.post("/logout")

    with_code = await cloud.client.post("/login", data={**form, "recovery_code": codes[0]})
    assert with_code.status_code == 303 and with_code.headers["location"] == "/totp/enrol"
    after = await cloud.client.get("/totp/enrol")
    assert re.search(r'id="codes-left">9<', after.text)
    assert (await cloud.client.get("/api/kiosks")).status_code == 200

    refused = await cloud.client.post(
        "/totp/recovery-codes", data={"password": PASSWORD, "totp": "000000"}
    )
    assert refused.status_code == 403 and "正しくありません" in refused.text
    fresh = await cloud.client.post(
        "/totp/recovery-codes", data={"password": PASSWORD, "totp": phone.code()}
    )
    assert fresh.status_code == 200
    new = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", fresh.text)
    assert len(new) == 10 and not set(new) & set(codes)
    await cloud.client.post("/logout")
    reused = await cloud.client.post("/login", data={**form, "recovery_code": codes[1]})
    assert reused.status_code == 401


def test_codes_are_random_and_normalised() -> None:
    codes = recovery.new_codes()
    assert len(set(codes)) == 10
    assert recovery.normalise(" ABCDE-fghij ") == "abcdefghij"
    assert recovery.normalise("abcde-fghi1") is None  # 1 is not base32
    assert recovery.normalise("abcd") is None
    stored = recovery.hash_code(codes[0])
    assert recovery.matches(stored, codes[0].replace("-", ""))
    assert not recovery.matches(stored, codes[1].replace("-", ""))
    assert not recovery.matches("not a hash", "abcdefghij")
