"""Ephemeral TURN credentials, the "TURN REST API" scheme coturn checks with `use-auth-secret`.

The username is `<expiry unix time>:<who>` and the password is base64(HMAC-SHA1(secret,
username)). coturn recomputes the HMAC from its own copy of the secret and refuses the pair
once the expiry has passed, so nothing per kiosk or per console is stored anywhere and a
credential copied out of a browser stops working within `ttl_s`.

Hand-written on purpose: the scheme is one HMAC line and no maintained Python library
implements it (coturn documents it in `turnserver.conf`, "static-auth-secret").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, model_validator

from protocol.v1 import IceServer


class TurnSettings(BaseModel):
    """The relay the control plane hands out with every call and connection test."""

    urls: list[str] = Field(
        default_factory=list,
        description="turn:/turns: URLs of the relay, e.g. turns:turn.example.jp:443?transport=tcp"
        " (empty: no relay is handed out)",
    )
    secret: SecretStr = Field(
        SecretStr(""), description="coturn's static-auth-secret (set through the environment)"
    )
    ttl_s: int = Field(
        3600, ge=60, le=86_400, description="How long a handed-out credential stays valid"
    )

    @model_validator(mode="after")
    def _secret_with_urls(self) -> TurnSettings:
        if self.urls and len(self.secret.get_secret_value()) < 16:
            raise ValueError("turn.secret must be set (16+ characters) when turn.urls are given")
        return self


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def ephemeral_credential(settings: TurnSettings, *, who: str, now: datetime) -> tuple[str, str]:
    """(username, password) valid until `now + ttl_s`; `who` is a kiosk id or a staff id,
    never a name (coturn logs usernames)."""
    if ":" in who:
        raise ValueError("who must not contain ':'")
    expiry = int(now.timestamp()) + settings.ttl_s
    username = f"{expiry}:{who}"
    return username, turn_password(settings.secret.get_secret_value(), username)


def ice_servers_for(
    static: list[IceServer], settings: TurnSettings, *, who: str, now: datetime
) -> tuple[IceServer, ...]:
    """The configured STUN/TURN servers plus, when a relay is configured, the relay with a
    credential made for `who` now."""
    servers: list[IceServer] = []
    if settings.urls:
        # First: aiortc uses only the first TURN server it is given.
        username, password = ephemeral_credential(settings, who=who, now=now)
        servers.append(
            IceServer(urls=tuple(settings.urls[:4]), username=username, credential=password)
        )
    return tuple([*servers, *static][:4])
