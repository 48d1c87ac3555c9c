"""Month-end on the reports page in headless Chromium: the contractor submits the month, city
staff return it with a comment, the contractor submits again, the city approves and
downloads the invoice."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from cloud.auth.models import Role
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in
from tests.reports.test_approval import pdf_text

MONTH_PAGE = "/reports?site=city-hall&month=2026-10"


async def _reports_page(browser: Browser, base: str, username: str) -> Page:
    page = await browser.new_page(locale="ja-JP", accept_downloads=True)
    await log_in(page, base, username, PASSWORD)
    await page.goto(f"{base}{MONTH_PAGE}")
    return page


async def test_admin_submits_city_approves_and_downloads_the_invoice(
    sqlite_cloud: Cloud, browser: Browser
) -> None:
    admin = await sqlite_cloud.make_user(Role.ADMIN, "admin-e2e")
    city = await sqlite_cloud.make_user(Role.CITY, "city-e2e")
    async with serving(sqlite_cloud) as address:
        base = f"http://{address}"
        contractor = await _reports_page(browser, base, admin)
        section = contractor.get_by_role("region", name="報告の提出・承認（city-hall 2026-10）")
        await expect(section.locator("#approval-state")).to_have_text("未提出")
        await section.get_by_role("button", name="報告を提出する").click()
        await expect(section.locator("#approval-state")).to_have_text("提出済み（市の確認待ち）")
        await expect(section.get_by_role("link", name="請求書をダウンロード")).to_have_count(0)

        staff = await _reports_page(browser, base, city)
        region = staff.get_by_role("region", name="報告の提出・承認（city-hall 2026-10）")
        await region.get_by_role("button", name="差し戻す").click()
        await expect(region.locator("output")).to_contain_text("コメント")
        await region.get_by_label("コメント").fill("支援員の出勤日を確認してください")
        await region.get_by_role("button", name="差し戻す").click()
        await expect(region.locator("#approval-state")).to_have_text("差戻し")

        await contractor.reload()
        await expect(section.locator("#approval-comment")).to_have_text(
            "支援員の出勤日を確認してください"
        )
        await section.get_by_role("button", name="再提出する").click()
        await expect(section.locator("#approval-state")).to_have_text("提出済み（市の確認待ち）")

        await staff.reload()
        await region.get_by_role("button", name="承認する").click()
        await expect(region.locator("#approval-state")).to_have_text("承認済み")
        await expect(region.get_by_role("row")).to_have_count(5)  # header + 4 steps
        async with staff.expect_download() as waiting:
            await region.get_by_role("link", name="請求書をダウンロード").click()
        download = await waiting.value
        assert download.suggested_filename == "seikyusho-city-hall-2026-10.pdf"
        path = await download.path()
        text = pdf_text(path.read_bytes())
        assert "請求書" in text and "1,650,000" in text  # fixed fee + tax, no staff days
