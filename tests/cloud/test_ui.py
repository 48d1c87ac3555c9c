"""The Japanese staff pages."""

from __future__ import annotations

from cloud.auth.models import Role
from tests.cloud.conftest import PASSWORD, Cloud


async def test_kiosk_page_needs_a_login(sqlite_cloud: Cloud) -> None:
    response = await sqlite_cloud.client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = await sqlite_cloud.client.get("/login")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text and "職員ログイン" in page.text


async def test_login_form_sets_a_strict_cookie_and_shows_the_kiosks(sqlite_cloud: Cloud) -> None:
    name = await sqlite_cloud.make_user(Role.TECH)
    bad = await sqlite_cloud.client.post("/login", data={"username": name, "password": "wrong!"})
    assert bad.status_code == 401 and "正しくありません" in bad.text
    good = await sqlite_cloud.client.post("/login", data={"username": name, "password": PASSWORD})
    assert good.status_code == 303
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = await sqlite_cloud.client.get("/")
    assert page.status_code == 200
    assert "端末一覧" in page.text and "まだ端末から接続がありません" in page.text
    api = await sqlite_cloud.client.get("/api/kiosks")  # the page's script uses the cookie
    assert api.status_code == 200 and api.json() == []
    out = await sqlite_cloud.client.post("/logout")
    assert out.status_code == 303
    assert (await sqlite_cloud.client.get("/api/kiosks")).status_code == 401
