"""The manual in the browser: city staff approve a submitted version on /manuals, and an
operator then sees its script and FAQ beside the call in the console."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser, expect

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.manuals import service
from cloud.manuals.demo import FAQ, SCRIPTS
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in


async def test_city_approves_and_the_operator_sees_the_script_and_faq(
    sqlite_cloud: Cloud, browser: Browser
) -> None:
    admin = await sqlite_cloud.make_user(Role.ADMIN, "admin-e2e")
    city = await sqlite_cloud.make_user(Role.CITY, "city-e2e")
    operator = await sqlite_cloud.make_user(Role.OPERATOR, "operator-e2e")
    now = datetime.now(UTC)
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        draft = await service.create_draft(
            db=db, actor=admin, based_on=None, change_note="初版", now=now
        )
        await service.edit_draft(
            db=db,
            actor=admin,
            number=draft.number,
            change_note="初版",
            scripts={str(code): steps for code, steps in SCRIPTS.items()},
            faq=FAQ,
            now=now,
        )
        await service.submit(db=db, actor=admin, number=draft.number, now=now)

    async with serving(sqlite_cloud) as address:
        base = f"http://{address}"
        page = await browser.new_page(locale="ja-JP")
        await log_in(page, base, city, PASSWORD)
        await page.get_by_role("link", name="運用マニュアル").click()
        await expect(page.locator("#manual-in-force")).to_have_text("まだ承認された版はありません")
        version = page.get_by_role("region", name="第1版（承認待ち）")
        await version.get_by_text("内容を見る").click()
        await expect(version).to_contain_text("健康保険証利用登録")
        await version.get_by_role("button", name="第1版を承認する").click()
        await expect(page.locator("#manual-in-force")).to_have_text("第1版")
        await expect(page.get_by_role("region", name="第1版（承認済み・現在有効）")).to_be_visible()
        await page.close()

        console = await browser.new_page(locale="ja-JP")
        await log_in(console, base, operator, PASSWORD)
        await console.get_by_role("link", name="オペレーター").click()
        panel = console.get_by_role("region", name="案内マニュアル・FAQ")
        await expect(panel.locator("#manual-version")).to_contain_text("第1版")
        steps = panel.get_by_role("list", name="案内手順")
        await expect(steps).to_contain_text("利用規約への同意と登録")  # 健康保険証 first
        await panel.get_by_label("表示する手続").select_option("public_funds_account")
        await expect(steps).to_contain_text("口座情報の確認")
        await expect(panel.get_by_label("FAQ", exact=True)).to_contain_text("代理人")
        await panel.get_by_role("searchbox", name="FAQ 検索").fill("暗証番号 ロック")
        await panel.get_by_role("button", name="検索").click()
        faq = panel.locator("#faq-results dt")
        await expect(faq).to_have_count(1)
        await expect(faq).to_have_text("暗証番号を3回間違えてロックされたと言われた")
