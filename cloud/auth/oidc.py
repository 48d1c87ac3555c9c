"""Log-in through the city's OpenID Connect provider: the authorization code flow with PKCE
(Authlib builds the request), the ID token checked with joserfc (Authlib's JOSE library),
and the claims mapped to a staff user name and role.

The flow's state, nonce and PKCE verifier travel in a short-lived encrypted cookie, so any
replica can take the callback."""

from __future__ import annotations

import hmac
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from cryptography.fernet import InvalidToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from cloud.auth.config import OidcSettings
from cloud.auth.models import Role
from cloud.auth.totp import fernet_for

FLOW_COOKIE = "madoguchi_oidc"
FLOW_MAX_AGE_S = 600
ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "PS256")
CLOCK_LEEWAY_S = 60
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class OidcError(Exception):
    """The log-in cannot go on; the message is safe to show (no token or claim values)."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True, slots=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str  # "<issuer> <sub>": stable across renames
    username: str
    display_name: str
    role: Role


async def discover(client: httpx.AsyncClient, settings: OidcSettings) -> Provider:
    url = settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = await client.get(url)
        response.raise_for_status()
        document = response.json()
        provider = Provider(
            issuer=str(document["issuer"]),
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise OidcError(
            f"the identity provider's discovery failed ({type(exc).__name__})"
        ) from None
    if provider.issuer.rstrip("/") != settings.issuer.rstrip("/"):
        raise OidcError("the identity provider names another issuer than configured")
    return provider


def start(provider: Provider, settings: OidcSettings, redirect_uri: str) -> tuple[str, Flow]:
    """The provider's authorization URL and the flow to keep until the callback."""
    flow = Flow(
        state=generate_token(32),
        nonce=generate_token(32),
        verifier=generate_token(64),
        redirect_uri=redirect_uri,
    )
    url = prepare_grant_uri(
        provider.authorization_endpoint,
        settings.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=settings.scopes,
        state=flow.state,
        nonce=flow.nonce,
        code_challenge=create_s256_code_challenge(flow.verifier),
        code_challenge_method="S256",
    )
    return url, flow


PENDING_COOKIE = "madoguchi_oidc_totp"
PENDING_MAX_AGE_S = 300


def seal_pending(identity: Identity, *, secret_key: str) -> str:
    """The identity the provider vouched for, waiting for the account's TOTP code."""
    data = {**asdict(identity), "role": identity.role.value}
    return fernet_for(secret_key, "oidc-totp").encrypt(json.dumps(data).encode()).decode()


def unseal_pending(value: str, *, secret_key: str) -> Identity | None:
    try:
        raw = fernet_for(secret_key, "oidc-totp").decrypt(value.encode(), ttl=PENDING_MAX_AGE_S)
        data = json.loads(raw)
        return Identity(
            subject=str(data["subject"]),
            username=str(data["username"]),
            display_name=str(data["display_name"]),
            role=Role(data["role"]),
        )
    except (InvalidToken, ValueError, TypeError, KeyError):
        return None


def seal(flow: Flow, *, secret_key: str) -> str:
    return fernet_for(secret_key, "oidc-flow").encrypt(json.dumps(asdict(flow)).encode()).decode()


def unseal(value: str, *, secret_key: str) -> Flow | None:
    try:
        raw = fernet_for(secret_key, "oidc-flow").decrypt(value.encode(), ttl=FLOW_MAX_AGE_S)
        return Flow(**json.loads(raw))
    except (InvalidToken, ValueError, TypeError):
        return None


def check_state(flow: Flow, state: str) -> None:
    if not hmac.compare_digest(flow.state.encode(), state.encode()):
        raise OidcError("the log-in's state does not match: start again")


async def exchange(
    client: httpx.AsyncClient, provider: Provider, settings: OidcSettings, flow: Flow, code: str
) -> str:
    """The ID token for an authorization code (client_secret_basic, PKCE verifier)."""
    try:
        response = await client.post(
            provider.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": flow.redirect_uri,
                "code_verifier": flow.verifier,
            },
            auth=(settings.client_id, settings.client_secret.get_secret_value()),
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        return str(response.json()["id_token"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise OidcError(f"the identity provider refused the code ({type(exc).__name__})") from None


async def fetch_keys(client: httpx.AsyncClient, provider: Provider) -> KeySet:
    try:
        response = await client.get(provider.jwks_uri)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
        raise OidcError(
            f"the identity provider's keys are unusable ({type(exc).__name__})"
        ) from None


def verify_id_token(
    id_token: str, keys: KeySet, settings: OidcSettings, flow: Flow, now: float | None = None
) -> dict[str, Any]:
    """The ID token's claims, after its signature, issuer, audience, expiry and nonce."""
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time() if now is None else now),
        leeway=CLOCK_LEEWAY_S,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.client_id},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": flow.nonce},
    )
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"the ID token is not valid ({type(exc).__name__})") from None
    claims = dict(token.claims)
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != settings.client_id:
        raise OidcError("the ID token was issued for another party")
    return claims


def proves_second_factor(claims: dict[str, Any], settings: OidcSettings) -> bool:
    """Whether the ID token says the user signed in with a second factor: an `amr` value
    or the `acr` value among the configured ones."""
    amr = claims.get("amr")
    methods = {amr} if isinstance(amr, str) else set(amr) if isinstance(amr, list) else set()
    if methods & set(settings.mfa_amr):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.mfa_acr


def map_identity(claims: dict[str, Any], settings: OidcSettings) -> Identity:
    """The staff identity the claims describe: the user name claim, and the role of the
    first `role_map` entry among the role claim's values (none: refused)."""
    raw_name = claims.get(settings.username_claim)
    username = raw_name.strip().lower() if isinstance(raw_name, str) else ""
    if not USERNAME.fullmatch(username):
        raise OidcError(f"the provider's '{settings.username_claim}' is not a usable user name")
    values = claims.get(settings.role_claim)
    held = {values} if isinstance(values, str) else set(values or ())
    role = next((role for value, role in settings.role_map.items() if value in held), None)
    if role is None:
        raise OidcError("the provider grants this user no madoguchi role")
    name = claims.get("name")
    display = name.strip()[:64] if isinstance(name, str) and name.strip() else username
    return Identity(
        subject=f"{settings.issuer} {claims['sub']}",
        username=username,
        display_name=display,
        role=role,
    )
