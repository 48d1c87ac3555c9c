"""Log-in through a city's OpenID Connect provider, against a small provider built here
(discovery, JWKS, authorize, token; RS256 ID tokens signed with a key made for the test):
the flow, bad tokens, and the second factor that admin and tech log-ins must prove."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth import oidc
from cloud.auth.config import AuthSettings, OidcSettings
from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.settings import BrokerSettings, CloudSettings
from madoguchi.demo import EmbeddedServer
from madoguchi.mosquitto import free_port
from tests.cloud.conftest import PASSWORD, Cloud, _running_cloud

CLIENT_ID = "madoguchi"
CLIENT_SECRET = "provider-client-secret"
LOA_MFA = "urn:city.example:loa:mfa"  # the provider's own name for a multi-factor log-in


@dataclass
class Provider:
    """The identity provider: who is signed in there, and what its tokens say."""

    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    claims: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tamper: str | None = None  # "nonce", "audience", "signature", "expired"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, object]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return dict(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert q["code_challenge_method"] == "S256" and "openid" in q["scope"].split()
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(q)
            return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}")

        @app.post("/token")
        async def token(
            request: Request,
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
        ) -> dict[str, object]:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                raise HTTPException(401, "invalid_client")
            asked = self.codes.pop(code, None)  # a code works once
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if asked is None or grant_type != "authorization_code":
                raise HTTPException(400, "invalid_grant")
            if asked["redirect_uri"] != redirect_uri or asked["code_challenge"] != challenge:
                raise HTTPException(400, "invalid_grant")
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": "someone-else" if self.tamper == "audience" else CLIENT_ID,
                "iat": now,
                "exp": now - 3600 if self.tamper == "expired" else now + 300,
                "nonce": "replayed" if self.tamper == "nonce" else asked["nonce"],
                **self.claims,
            }
            key = self.key
            if self.tamper == "signature":
                key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return {"access_token": "at", "token_type": "Bearer", "id_token": id_token}

        return app


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    port = free_port()
    idp = Provider(issuer=f"http://127.0.0.1:{port}")
    server = EmbeddedServer(
        uvicorn.Config(idp.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield idp
    finally:
        server.should_exit = True
        await task


def oidc_settings(issuer: str) -> OidcSettings:
    return OidcSettings(
        enabled=True,
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        role_map={
            "madoguchi-admin": Role.ADMIN,
            "madoguchi-tech": Role.TECH,
            "madoguchi-city": Role.CITY,
        },
        mfa_acr=(LOA_MFA,),
    )


@pytest.fixture
async def oidc_cloud(provider: Provider, tmp_path: Path) -> AsyncIterator[Cloud]:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'oidc.db'}",
        mqtt=BrokerSettings(enabled=False),
        auth=AuthSettings(
            totp_required_roles=frozenset({Role.ADMIN, Role.TECH}),
            oidc=oidc_settings(provider.issuer),
        ),
    )
    async for running in _running_cloud(settings):
        yield running


async def sign_in(cloud: Cloud) -> httpx.Response:
    """The browser's round trip: our log-in link, the provider, our callback."""
    start = await cloud.client.get("/auth/oidc/login")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(start.headers["location"])
    assert at_provider.status_code == 307
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/auth/oidc/callback"
    return await cloud.client.get(f"{back.path}?{back.query}")


async def test_a_provider_user_signs_in_with_the_mapped_role(
    oidc_cloud: Cloud, provider: Provider
) -> None:
    provider.claims = {
        "sub": "u-123",
        "preferred_username": "Taro.Yamada",
        "name": "山田 太郎",
        "groups": ["staff", "madoguchi-tech"],
        "amr": ["pwd", "otp"],  # the provider asked for its second factor
    }
    page = await oidc_cloud.client.get("/login")
    assert 'href="/auth/oidc/login"' in page.text
    done = await sign_in(oidc_cloud)
    assert done.status_code == 200 and 'content="0;url=/"' in done.text
    assert "samesite=strict" in done.headers["set-cookie"].lower()
    # A full session: the provider answers for the second factor.
    me = await oidc_cloud.client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "taro.yamada" and me.json()["role"] == "tech"
    assert (await oidc_cloud.client.get("/")).status_code == 200

    # The role follows the provider at the next log-in; the same account is found by `sub`.
    provider.claims = {**provider.claims, "preferred_username": "taro", "groups": "madoguchi-admin"}
    oidc_cloud.client.cookies.clear()
    assert (await sign_in(oidc_cloud)).status_code == 200
    async with transaction(oidc_cloud.app.state.sessions) as db:
        users = list(await db.scalars(select(StaffUser)))
        actions = [e.action for e in await db.scalars(select(AuditEntry))]
    assert [(u.username, u.role) for u in users] == [("taro.yamada", "admin")]
    assert users[0].oidc_subject == f"{provider.issuer} u-123"
    assert actions.count("login") == 2 and "user.created_by_oidc" in actions
    assert "user.role_from_oidc" in actions
    # No local password: the password form never opens this account.
    refused = await oidc_cloud.client.post(
        "/api/auth/login", json={"username": "taro.yamada", "password": PASSWORD}
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("tamper", ["nonce", "audience", "signature", "expired"])
async def test_a_bad_id_token_is_refused(
    oidc_cloud: Cloud, provider: Provider, tamper: str
) -> None:
    provider.claims = {
        "sub": "u-1",
        "preferred_username": "hanako",
        "groups": ["madoguchi-tech"],
        "amr": ["mfa"],
    }
    provider.tamper = tamper
    refused = await sign_in(oidc_cloud)
    assert refused.status_code == 403 and "ID token" in refused.text
    assert "madoguchi_session" not in oidc_cloud.client.cookies
    assert (await oidc_cloud.client.get("/api/auth/me")).status_code == 401


async def test_no_role_a_taken_name_or_a_forged_state_is_refused(
    oidc_cloud: Cloud, provider: Provider
) -> None:
    provider.claims = {"sub": "u-2", "preferred_username": "jiro", "groups": ["staff"]}
    no_role = await sign_in(oidc_cloud)
    assert no_role.status_code == 403 and "no madoguchi role" in no_role.text

    await oidc_cloud.make_user(Role.ADMIN, "local-admin")
    provider.claims = {
        "sub": "u-3",
        "preferred_username": "local-admin",
        "groups": "madoguchi-admin",
        "amr": "hwk",
    }
    taken = await sign_in(oidc_cloud)
    assert taken.status_code == 403 and "local account" in taken.text

    start = await oidc_cloud.client.get("/auth/oidc/login")
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(start.headers["location"])
    query = parse_qs(urlsplit(at_provider.headers["location"]).query)
    forged = await oidc_cloud.client.get(
        f"/auth/oidc/callback?code={query['code'][0]}&state=not-the-state"
    )
    assert forged.status_code == 403 and "state" in forged.text
    oidc_cloud.client.cookies.clear()  # another browser: no flow cookie
    stray = await oidc_cloud.client.get(f"/auth/oidc/callback?code=x&state={query['state'][0]}")
    assert stray.status_code == 403
    async with transaction(oidc_cloud.app.state.sessions) as db:
        actions = [e.action for e in await db.scalars(select(AuditEntry))]
    assert actions.count("login.oidc_refused") == 4


async def audit(cloud: Cloud) -> list[AuditEntry]:
    async with transaction(cloud.app.state.sessions) as db:
        return list(await db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def test_admin_and_tech_need_a_second_factor_from_the_provider(
    oidc_cloud: Cloud, provider: Provider
) -> None:
    # A password-only log-in at the provider: refused with a message that says why, and no
    # account is made for it.
    provider.claims = {
        "sub": "u-10",
        "preferred_username": "kanri",
        "groups": "madoguchi-admin",
        "amr": ["pwd"],
        "acr": "1",
    }
    refused = await sign_in(oidc_cloud)
    assert refused.status_code == 403
    assert "多要素認証" in refused.text and "second factor" in refused.text
    assert (await oidc_cloud.client.get("/api/auth/me")).status_code == 401
    async with transaction(oidc_cloud.app.state.sessions) as db:
        assert list(await db.scalars(select(StaffUser))) == []
    entries = await audit(oidc_cloud)
    assert [e.action for e in entries] == ["login.oidc_refused"]
    assert "second factor" in str(entries[0].detail)

    # The configured `acr` value proves it as well as an `amr` value does.
    provider.claims = {**provider.claims, "acr": LOA_MFA}
    oidc_cloud.client.cookies.clear()
    assert (await sign_in(oidc_cloud)).status_code == 200
    assert (await oidc_cloud.client.get("/api/auth/me")).json()["role"] == "admin"
    provider.claims = {**provider.claims, "acr": "1", "amr": ["pwd", "hwk"]}
    oidc_cloud.client.cookies.clear()
    assert (await sign_in(oidc_cloud)).status_code == 200
    methods = [e.detail["method"] for e in await audit(oidc_cloud) if e.action == "login"]
    assert methods == ["oidc+mfa", "oidc+mfa"]

    # City staff need no second factor (not a role that must enrol one).
    provider.claims = {"sub": "u-11", "preferred_username": "shi", "groups": "madoguchi-city"}
    oidc_cloud.client.cookies.clear()
    assert (await sign_in(oidc_cloud)).status_code == 200
    assert (await oidc_cloud.client.get("/api/auth/me")).json()["role"] == "city"


async def test_an_account_with_its_own_totp_is_asked_for_the_code(
    oidc_cloud: Cloud, provider: Provider
) -> None:
    from tests.cloud.test_totp import Authenticator

    client = oidc_cloud.client
    provider.claims = {
        "sub": "u-20",
        "preferred_username": "gishi",
        "groups": "madoguchi-tech",
        "amr": ["mfa"],
    }
    assert (await sign_in(oidc_cloud)).status_code == 200
    enrolment = await client.post("/api/auth/totp/enrol")
    assert enrolment.status_code == 200, enrolment.text
    phone = Authenticator(enrolment.json()["secret"])
    confirmed = await client.post("/api/auth/totp/confirm", json={"code": phone.code()})
    assert confirmed.status_code == 200, confirmed.text

    # Next time the provider vouches for the password only: the account's TOTP step.
    provider.claims = {**provider.claims, "amr": ["pwd"]}
    client.cookies.clear()
    step = await sign_in(oidc_cloud)
    assert step.status_code == 200 and 'action="/auth/oidc/totp"' in step.text
    assert (await client.get("/api/auth/me")).status_code == 401  # not signed in yet
    wrong = await client.post("/auth/oidc/totp", data={"code": "000000"})
    assert wrong.status_code == 401 and "正しくない" in wrong.text
    done = await client.post("/auth/oidc/totp", data={"code": phone.code()})
    assert done.status_code == 200 and 'content="0;url=/"' in done.text
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "gishi"
    # The pending log-in was used up with the session: no second session from it.
    again = await client.post("/auth/oidc/totp", data={"code": phone.code()})
    assert again.status_code == 403
    actions = [(e.action, (e.detail or {}).get("method")) for e in await audit(oidc_cloud)]
    assert ("login", "oidc+totp") in actions and ("login.totp_failed", None) in actions
    # Without the pending cookie (another browser) the step is refused.
    client.cookies.clear()
    stray = await client.post("/auth/oidc/totp", data={"code": "123456"})
    assert stray.status_code == 403


async def test_wrong_codes_at_the_totp_step_lock_the_account(
    oidc_cloud: Cloud, provider: Provider
) -> None:
    from tests.cloud.test_totp import Authenticator

    client = oidc_cloud.client
    provider.claims = {"sub": "u-30", "preferred_username": "kanri2", "groups": "madoguchi-admin"}
    provider.claims["amr"] = ["otp"]
    assert (await sign_in(oidc_cloud)).status_code == 200
    enrolment = await client.post("/api/auth/totp/enrol")
    phone = Authenticator(enrolment.json()["secret"])
    assert (
        await client.post("/api/auth/totp/confirm", json={"code": phone.code()})
    ).status_code == 200
    provider.claims["amr"] = ["pwd"]
    client.cookies.clear()
    assert (await sign_in(oidc_cloud)).status_code == 200
    statuses = [
        (await client.post("/auth/oidc/totp", data={"code": "000000"})).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    locked = await client.post("/auth/oidc/totp", data={"code": phone.code()})
    assert locked.status_code == 401  # locked: even the right code
    assert "login.locked" in [e.action for e in await audit(oidc_cloud)]


async def test_oidc_is_off_by_default(sqlite_cloud: Cloud) -> None:
    assert (await sqlite_cloud.client.get("/auth/oidc/login")).status_code == 404
    assert (await sqlite_cloud.client.get("/auth/oidc/callback?code=x&state=y")).status_code == 404
    assert "/auth/oidc/login" not in (await sqlite_cloud.client.get("/login")).text


def test_second_factor_claims() -> None:
    settings = oidc_settings("https://idp.example")
    assert oidc.proves_second_factor({"amr": ["pwd", "mfa"]}, settings)
    assert oidc.proves_second_factor({"amr": "otp"}, settings)
    assert oidc.proves_second_factor({"acr": LOA_MFA}, settings)
    for claims in ({}, {"amr": ["pwd"]}, {"acr": "1"}, {"amr": {"mfa": 1}}, {"acr": [LOA_MFA]}):
        assert not oidc.proves_second_factor(claims, settings), claims
    strict = settings.model_copy(update={"mfa_amr": ("hwk",)})
    assert not oidc.proves_second_factor({"amr": ["otp"]}, strict)
    assert oidc.proves_second_factor({"amr": ["hwk"]}, strict)


def test_claims_map_to_a_user_name_and_the_first_matching_role() -> None:
    settings = oidc_settings("https://idp.example")
    base = {"sub": "s"}
    identity = oidc.map_identity(
        {
            **base,
            "preferred_username": "a.b@city.example",
            "groups": ["madoguchi-tech", "madoguchi-admin"],
        },
        settings,
    )
    assert identity.role is Role.ADMIN  # the first entry of role_map that the user holds
    assert identity.username == "a.b@city.example" and identity.subject == "https://idp.example s"
    for bad in ({"preferred_username": "x"}, {"preferred_username": "<script>"}, {}):
        with pytest.raises(oidc.OidcError):
            oidc.map_identity({**base, **bad, "groups": "madoguchi-tech"}, settings)
    with pytest.raises(oidc.OidcError):
        oidc.map_identity({**base, "preferred_username": "abc", "groups": None}, settings)
    with pytest.raises(ValueError):
        OidcSettings(enabled=True, issuer="https://idp.example")  # no client, no roles
