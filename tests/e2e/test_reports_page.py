"""City staff on the reports page: the bill, a storm closure, the report downloaded."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from cloud.auth.models import Role
from cloud.calendar.service import closures
from cloud.db.engine import transaction
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in


async def test_city_staff_record_a_closure_and_download_the_report(
    sqlite_cloud: Cloud, browser: Browser
) -> None:
    city = await sqlite_cloud.make_user(Role.CITY, "city-e2e")
    async with serving(sqlite_cloud) as address:
        page = await browser.new_page(locale="ja-JP", accept_downloads=True)
        await log_in(page, f"http://{address}", city, PASSWORD)
        await page.get_by_role("link", name="業務実績報告").click()
        await page.goto(f"http://{address}/reports?site=city-hall&month=2026-11")
        bill = page.get_by_role("region", name="請求内訳（city-hall 2026-11）")
        await expect(bill).to_contain_text("1,650,000 円")  # fixed fee + tax, no staff days

        form = page.get_by_role("region", name="臨時閉庁の記録")
        await form.get_by_label("日付").fill("2026-11-10")
        await form.get_by_label("閉庁開始").fill("12:00")
        await form.get_by_label("理由").fill("暴風警報")
        await form.get_by_role("button", name="閉庁を記録する").click()
        await expect(form.locator("output")).to_have_text("記録しました")
        async with transaction(sqlite_cloud.app.state.sessions) as db:
            recorded = await closures(
                db=db, site_id="city-hall", start=date(2026, 11, 1), end=date(2026, 11, 30)
            )
        assert [(c.date, c.reason, str(c.from_time)) for c in recorded] == [
            (date(2026, 11, 10), "暴風警報", "12:00:00")
        ]

        async with page.expect_download() as waiting:
            await page.get_by_role("button", name="出力する").click()
        download = await waiting.value
        path = await download.path()
        book = load_workbook(io.BytesIO(path.read_bytes()))
        daily = {row[0].value.date(): row for row in book["日別"].iter_rows(min_row=2, max_row=31)}
        storm = daily[date(2026, 11, 10)]
        assert storm[3].value == "08:30〜12:00" and "暴風警報" in storm[4].value
