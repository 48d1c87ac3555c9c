"""A tech logs in, watches the kiosks' live health and runs a self-test from the page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, expect

from cloud.auth.models import Role
from edge.agent import KioskAgent
from madoguchi.demo import EmbeddedServer
from madoguchi.mosquitto import free_port
from tests.cloud.conftest import PASSWORD, Cloud
from tests.edge.helpers import edge_settings
from tests.servers import Broker


async def test_tech_sees_live_health_and_runs_a_self_test(
    broker: Broker, broker_cloud: Cloud, browser: Browser, state_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    server = EmbeddedServer(
        uvicorn.Config(
            broker_cloud.app, host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
    )
    serving = asyncio.create_task(server.serve())
    agent = KioskAgent(edge_settings(broker, "e2e-k1", state_dir))
    running = asyncio.create_task(agent.run())
    name = await broker_cloud.make_user(Role.TECH, "tech-e2e")
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        page = await browser.new_page(locale="ja-JP")
        await page.goto(f"http://127.0.0.1:{port}/")
        await expect(page.get_by_role("heading", name="職員ログイン")).to_be_visible()
        await page.get_by_label("ユーザー名").fill(name)
        await page.get_by_label("パスワード").fill(PASSWORD)
        await page.get_by_role("button", name="ログイン").click()
        await expect(page.get_by_role("heading", name="端末一覧")).to_be_visible()
        alerts = page.get_by_role("region", name="発生中のアラート")
        await expect(alerts).to_be_visible()
        row = page.get_by_role("row").filter(has_text="e2e-k1")
        await expect(row.get_by_text("オンライン")).to_be_visible(timeout=15_000)
        await expect(row.get_by_text("カードリーダー（模擬）")).to_be_visible()
        await row.get_by_role("button", name="自己診断").click()
        await expect(row.locator("output")).to_contain_text("成功", timeout=20_000)
        await expect(row.locator("output")).to_have_attribute(
            "title", re.compile("カードリーダー: ok \\(simulated\\)")
        )
        await page.screenshot(path=str(tmp_path / "kiosks.png"), full_page=True)
        assert (tmp_path / "kiosks.png").stat().st_size > 10_000
        # An operator sees the fleet but gets no maintenance controls.
        await page.get_by_role("button", name="ログアウト").click()
        await expect(page.get_by_role("heading", name="職員ログイン")).to_be_visible()
        operator = await broker_cloud.make_user(Role.OPERATOR, "op-e2e")
        await page.get_by_label("ユーザー名").fill(operator)
        await page.get_by_label("パスワード").fill(PASSWORD)
        await page.get_by_role("button", name="ログイン").click()
        await expect(page.get_by_role("heading", name="端末一覧")).to_be_visible()
        await expect(row.get_by_text("オンライン")).to_be_visible(timeout=15_000)
        await expect(page.get_by_role("button", name="自己診断")).to_have_count(0)
        await expect(page.get_by_role("link", name="オペレーター")).to_be_visible()
    finally:
        agent.stop()
        await asyncio.wait_for(running, 10)
        server.should_exit = True
        await serving
