"""The consent documents page in a real headless Chromium: an admin adds a new version of the
terms of use through the form, sees it in force and in the history; a mistake is shown, not
saved; city staff read without the form; other roles and other origins are refused."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Browser, expect
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.privacy.models import ConsentDocument
from cloud.privacy.service import DEFAULTS, today_in_japan
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in


async def test_an_admin_adds_a_version_and_city_staff_read_it(
    sqlite_cloud: Cloud, browser: Browser
) -> None:
    admin = await sqlite_cloud.make_user(Role.ADMIN, "admin-consent")
    city = await sqlite_cloud.make_user(Role.CITY, "city-consent")
    today = today_in_japan()
    async with serving(sqlite_cloud) as address:
        base = f"http://{address}"
        page = await browser.new_page(locale="ja-JP")
        await log_in(page, base, admin, PASSWORD)
        await page.get_by_role("link", name="同意文書").click()
        await expect(page.locator("#consent-terms-current")).to_have_text(DEFAULTS.terms_version)

        form = page.locator("#consent-new")
        await form.get_by_label("種類").select_option("terms")
        await form.get_by_label("版（例: 2026-04）").fill("2026-12")
        await form.get_by_label("施行日").fill(today.isoformat())
        await form.get_by_label("表題").fill("窓口端末 利用規約（第2版）")
        await form.get_by_label("本文（日本語）").fill("第1条 この規約は…")
        await form.get_by_role("button", name="この版を追加する").click()
        await expect(page.locator("#consent-terms-current")).to_have_text("2026-12")
        history = page.get_by_role("table", name="利用規約の履歴")
        row = history.locator('tr[data-version="2026-12"]')
        await expect(row).to_contain_text("現在有効")
        await expect(row).to_contain_text("admin-consent")

        # The same version again: the API's refusal is shown, nothing is added.
        await form.get_by_label("種類").select_option("terms")
        await form.get_by_label("版（例: 2026-04）").fill("2026-12")
        await form.get_by_label("施行日").fill(today.isoformat())
        await form.get_by_label("表題").fill("重複")
        await form.get_by_label("本文（日本語）").fill("重複")
        await form.get_by_role("button", name="この版を追加する").click()
        await expect(page.locator("#consent-result")).to_contain_text("already recorded")

        # A later privacy policy is scheduled, not in force yet.
        later = today + timedelta(days=10)
        await form.get_by_label("種類").select_option("privacy")
        await form.get_by_label("版（例: 2026-04）").fill("p-2027")
        await form.get_by_label("施行日").fill(later.isoformat())
        await form.get_by_label("表題").fill("個人情報の取扱い（改定）")
        await form.get_by_label("本文（日本語）").fill("1. 取得する情報 …")
        await form.get_by_role("button", name="この版を追加する").click()
        scheduled = page.get_by_role("table", name="個人情報の取扱いの履歴").locator(
            'tr[data-version="p-2027"]'
        )
        await expect(scheduled).to_contain_text("施行予定")
        await page.close()

        reader = await browser.new_page(locale="ja-JP")
        await log_in(reader, base, city, PASSWORD)
        await reader.get_by_role("link", name="同意文書").click()
        await expect(
            reader.get_by_role("table", name="利用規約の履歴").locator('tr[data-version="2026-12"]')
        ).to_contain_text("現在有効")
        await expect(reader.locator("#consent-new")).to_have_count(0)
        await reader.close()

    async with transaction(sqlite_cloud.app.state.sessions) as db:
        docs = list(await db.scalars(select(ConsentDocument).order_by(ConsentDocument.id)))
        actions = [e.action for e in await db.scalars(select(AuditEntry))]
    assert [(d.kind, d.version) for d in docs] == [("terms", "2026-12"), ("privacy", "p-2027")]
    assert actions.count("consent.add") == 2


async def test_other_roles_and_other_origins_are_refused(sqlite_cloud: Cloud) -> None:
    client = sqlite_cloud.client
    operator = await sqlite_cloud.token(Role.OPERATOR)
    client.cookies.clear()
    assert (await client.get("/consent-documents")).status_code == 401
    as_operator = await client.get(
        "/consent-documents", headers={"Authorization": f"Bearer {operator}"}
    )
    assert as_operator.status_code == 403
    # An admin's browser session, but the form posted from another site: refused.
    admin = await sqlite_cloud.make_user(Role.ADMIN)
    login = await client.post("/login", data={"username": admin, "password": PASSWORD})
    assert login.status_code == 303
    forged = await client.post(
        "/api/consent-documents",
        json={
            "kind": "terms",
            "version": "evil",
            "title": "x",
            "body": "x",
            "effective_from": today_in_japan().isoformat(),
        },
        headers={"Origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    page = await client.get("/consent-documents")
    assert page.status_code == 200 and 'id="consent-new"' in page.text
    assert "evil" not in page.text
