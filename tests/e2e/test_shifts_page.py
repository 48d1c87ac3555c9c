"""City staff on the shifts page: the demo roster's one gap stands out."""

from __future__ import annotations

from datetime import date

from playwright.async_api import Browser, expect

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.shifts.demo import seed_demo
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in


async def test_city_staff_see_the_gap_highlighted(sqlite_cloud: Cloud, browser: Browser) -> None:
    city = await sqlite_cloud.make_user(Role.CITY, "city-shifts")
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        # Mon 30 Nov 2026 – Sun 13 Dec: opening days Mon–Fri and the 2nd Sunday (13th).
        added = await seed_demo(db, date(2026, 11, 30))
    assert added == 3 * 11
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        assert await seed_demo(db, date(2026, 11, 30)) == 0  # a restart adds nothing
    async with serving(sqlite_cloud) as address:
        page = await browser.new_page(locale="ja-JP")
        await log_in(page, f"http://{address}", city, PASSWORD)
        await page.get_by_role("link", name="シフト").click()
        await expect(page.get_by_role("heading", name="シフトと配置状況")).to_be_visible()
        await page.goto(f"http://{address}/shifts?site=city-hall&from=2026-11-30&weeks=2")
        await expect(page.get_by_role("status")).to_contain_text("不足あり: 1 件、計 135 分")
        highlighted = page.locator("tr.has-gap")
        await expect(highlighted).to_have_count(1)
        await expect(highlighted).to_have_attribute("data-date", "2026-12-01")
        await expect(highlighted).to_contain_text("オペレータ不足 15:00〜17:15（135分、1/2人）")
        await expect(highlighted).to_have_css("background-color", "rgb(253, 236, 234)")
        await expect(highlighted.locator(".gap")).to_have_css("color", "rgb(179, 38, 30)")
        sunday = page.locator('tr[data-date="2026-12-13"]')
        await expect(sunday).to_contain_text("09:00〜16:00")
        await expect(sunday).to_contain_text("充足")
        await expect(page.locator('tr[data-date="2026-12-06"]')).to_contain_text("閉庁")
