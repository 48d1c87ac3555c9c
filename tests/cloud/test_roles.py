"""Roles enforced everywhere: the endpoint × role table is read from the routes, kept in
docs/roles.md, and walked here against the running app with a token of every role."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from cloud.auth.models import Role
from cloud.roles import access_table, markdown, unguarded
from tests.cloud.conftest import Cloud

DOCS = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
PATH_VALUES = {
    "kiosk_id": "walk-k1",
    "command_id": str(uuid.uuid4()),
    "site_id": "city-hall",
    "rollout_id": "999999",
    "token": "not-a-token",
    "document_id": "999999",
    "user_id": "999999",
    "version": "999999",  # a manual version
    "shift_id": "999999",
}


def test_every_route_is_guarded_and_the_table_is_current(sqlite_cloud: Cloud) -> None:
    assert unguarded(sqlite_cloud.app) == []
    assert DOCS.read_text(encoding="utf-8") == markdown(sqlite_cloud.app), (
        "docs/roles.md is stale: run `madoguchi cloud roles --out docs/roles.md`"
    )


async def test_walk_every_endpoint_with_every_role(sqlite_cloud: Cloud) -> None:
    tokens = {role.value: await sqlite_cloud.token(role) for role in Role}
    sqlite_cloud.client.cookies.clear()  # bearer tokens only: each request says who it is
    walked = 0
    for access in access_table(sqlite_cloud.app):
        if access.roles is None or access.method == "WS":
            continue  # public or self-checked pages; sockets are walked in their own tests
        if access.path == "/api/auth/logout":
            continue  # would revoke the token the walk uses (tested in test_auth)
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], access.path)
        anonymous = await sqlite_cloud.client.request(access.method, path, json={})
        assert anonymous.status_code == 401, f"{access.method} {path} without a token"
        for role, token in tokens.items():
            response = await sqlite_cloud.client.request(
                access.method, path, json={}, headers={"Authorization": f"Bearer {token}"}
            )
            if role in access.roles:
                assert response.status_code not in (401, 403, 500), (
                    f"{role} {access.method} {path}: {response.status_code} {response.text[:200]}"
                )
            else:
                assert response.status_code == 403, (
                    f"{role} must not {access.method} {path}: {response.status_code}"
                )
            walked += 1
    assert walked >= 150
