"""The online window end to end: a resident at a kiosk calls, an operator answers in the
browser, and both sides see and hear each other.

Real parts: Mosquitto, the control plane (uvicorn), the kiosk agent with aiortc, Xvfb with
Chromium in kiosk mode showing the resident screen (captured as the screen track), and a
headless Chromium with fake media devices as the operator's console.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select, text

from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.base import Base
from cloud.db.engine import transaction
from cloud.routing.models import CallRecord
from edge.agent import KioskAgent
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.conftest import log_in
from tests.edge.helpers import edge_settings
from tests.servers import Broker, Xvfb

OPERATOR_NAME = "山田 花子"
# Recognisable fake personal data, shown on the kiosk screen (as the Mynaportal page would):
# it may travel in the encrypted call and nowhere else.
CANARY_NAME = "番号 太郎"
CANARY_NUMBER = "123456789018"


async def operator_console(browser: Browser, base_url: str, username: str) -> Page:
    context = await browser.new_context(locale="ja-JP", permissions=["camera", "microphone"])
    page = await context.new_page()
    await log_in(page, base_url, username, PASSWORD)
    await page.get_by_role("link", name="オペレーター").click()
    await expect(page.get_by_role("heading", name="オペレーター コンソール")).to_be_visible()
    return page


async def decoded(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] | None = await page.evaluate("window.madoguchi.stats()")
    assert stats is not None
    return stats


async def wait_for_media(page: Page, *, frames: int = 15, timeout_s: float = 30) -> dict[str, Any]:
    """Until both kiosk video tracks decoded `frames` frames and audio samples arrived."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        stats = await decoded(page)
        videos = [s for s in stats["inbound"] if s["kind"] == "video"]
        audio = [s for s in stats["inbound"] if s["kind"] == "audio"]
        if (
            len(videos) == 2
            and all(v["framesDecoded"] >= frames for v in videos)
            and audio
            and audio[0]["totalSamplesReceived"] > 0
        ):
            return stats
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"media did not flow: {json.dumps(stats)}")
        await asyncio.sleep(0.5)


async def wait_for_guest_media(page: Page, timeout_s: float = 30) -> dict[str, Any]:
    """The guest decodes the operator's and the resident's video, and hears them."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        stats: dict[str, Any] | None = await page.evaluate("window.madoguchiGuest.stats()")
        if stats:
            videos = [s for s in stats["inbound"] if s["kind"] == "video"]
            audio = [s for s in stats["inbound"] if s["kind"] == "audio"]
            if (
                len(videos) == 2
                and all(v["framesDecoded"] >= 5 for v in videos)
                and any(a["totalSamplesReceived"] > 0 for a in audio)
            ):
                return stats
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"guest media did not flow: {stats}")
        await asyncio.sleep(0.5)


async def database_text(cloud: Cloud) -> str:
    """Every row of every table, as text: what a database dump would reveal."""
    rows = []
    async with transaction(cloud.app.state.sessions) as db:
        for table in Base.metadata.sorted_tables:
            result = await db.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608
            rows += [repr(tuple(row)) for row in result]
    return "\n".join(rows)


async def test_resident_calls_and_operator_answers_with_video_both_ways(
    broker: Broker,
    broker_cloud: Cloud,
    browser: Browser,
    kiosk_browser: Browser,
    xvfb: Xvfb,
    state_dir: Path,
    capfd: Any,
) -> None:
    async with transaction(broker_cloud.app.state.sessions) as db:
        await create_user(
            db=db,
            username="op-call",
            password=PASSWORD,
            role=Role.OPERATOR,
            display_name=OPERATOR_NAME,
        )
    agent = KioskAgent(
        edge_settings(
            broker,
            "call-k1",
            state_dir,
            calls=True,
            resident_port=0,
            camera="test-pattern",
            screen_capture=f"x11:{xvfb.display}",
            microphone="tone",
        )
    )
    running = asyncio.create_task(agent.run())
    try:
        async with serving(broker_cloud) as address:
            base_url = f"http://{address}"
            await asyncio.wait_for(agent.link.connected.wait(), 15)
            assert agent.resident_screen is not None
            kiosk = await kiosk_browser.new_page()
            await kiosk.goto(agent.resident_screen.url)

            console = await operator_console(browser, base_url, "op-call")
            await console.get_by_role("button", name="受付開始").click()
            await expect(console.locator("#presence")).to_have_text("受付中")

            # The resident: start, consent (versions from the cloud's config), call.
            await kiosk.get_by_role("button", name="はじめる").click()
            await expect(kiosk.get_by_text("利用規約（第 2026-04 版）")).to_be_visible()
            await kiosk.get_by_role("button", name="同意して進む").click()
            await kiosk.get_by_role("button", name="通話する").click()
            await expect(kiosk.get_by_text("オペレーターにおつなぎしています")).to_be_visible()

            # The operator is rung and accepts.
            ringing = console.get_by_role("row").filter(has_text="call-k1")
            await expect(ringing).to_contain_text("着信中（あなた）", timeout=15_000)
            await ringing.get_by_role("button", name="応答").click()

            await expect(kiosk.get_by_text(f"担当：{OPERATOR_NAME}")).to_be_visible(timeout=20_000)
            # Personal data on the kiosk screen, as a Mynaportal page would show it.
            await kiosk.evaluate(
                "([name, number]) => { const p = document.createElement('p');"
                " p.className = 'big'; p.textContent = name + ' ' + number;"
                " document.querySelector('#in_call').append(p); }",
                [CANARY_NAME, CANARY_NUMBER],
            )
            stats = await wait_for_media(console)
            videos = [s for s in stats["inbound"] if s["kind"] == "video"]
            assert {v["frameWidth"] for v in videos} == {640, 1280}  # camera and screen
            assert stats["connectionState"] == "connected"
            assert agent.calls.peer is not None
            assert sorted(agent.calls.peer.received) == ["audio", "video"]  # operator's media
            assert agent.session.active  # maintenance would wait for this resident
            # Call quality is measured (and sent as telemetry); loopback needs no step-down.
            async with asyncio.timeout(15):
                while agent.calls.quality is None or agent.calls.quality.rtt_ms is None:
                    await asyncio.sleep(0.2)
            assert agent.calls.quality.video_level == 0
            assert (await agent.telemetry()).call == agent.calls.quality

            # The operator shows the referral screen through the data channel.
            await console.get_by_role("button", name="案内画面を表示").click()
            await expect(kiosk.locator("#referral-counter")).to_have_text(
                "市民課 マイナンバーカード窓口（本庁舎1階）"
            )
            await expect(kiosk.locator("#referral-counter")).to_be_visible()
            await console.get_by_role("button", name="案内画面を閉じる").click()
            await expect(kiosk.get_by_text(f"担当：{OPERATOR_NAME}")).to_be_visible()

            # A third party (an interpreter) joins through a single-use link.
            await console.get_by_role("button", name="第三者を招待").click()
            await expect(console.locator("#invite-url")).to_contain_text("/join/")
            link = await console.locator("#invite-url").text_content()
            assert link and link.startswith(f"{base_url}/join/")
            guest_context = await browser.new_context(
                locale="ja-JP", permissions=["camera", "microphone"]
            )
            guest = await guest_context.new_page()
            await guest.goto(link)
            await expect(guest.locator("#guest-status")).to_have_text("通話中", timeout=20_000)
            guest_stats = await wait_for_guest_media(guest)
            assert len([s for s in guest_stats["inbound"] if s["kind"] == "video"]) == 2
            await expect(console.locator("#guest-panel")).to_be_visible()
            again = await guest_context.new_page()
            await again.goto(link)
            await expect(again.locator("#guest-status")).to_contain_text("使用済み")

            await console.get_by_role("button", name="通話終了").click()
            await expect(guest.locator("#guest-status")).to_have_text("通話は終了しました")
            await expect(kiosk.get_by_text("ご利用ありがとうございました")).to_be_visible()
            outcome = console.get_by_role("region", name="対応結果の記録")
            await outcome.get_by_label("手続").select_option("public_funds_account")
            await outcome.get_by_role("button", name="記録する").click()
            await expect(console.locator("#presence")).to_have_text("受付中")
            assert not agent.session.active

        async with transaction(broker_cloud.app.state.sessions) as db:
            calls = list(await db.scalars(select(CallRecord)))
        assert len(calls) == 1
        call = calls[0]
        assert (call.kiosk_id, call.state, call.end_reason) == (
            "call-k1",
            "ended",
            "operator_hung_up",
        )
        assert (call.procedure, call.outcome) == ("public_funds_account", "completed")
        assert (call.terms_version, call.privacy_version) == ("2026-04", "2026-04")
        assert call.kiosk_offer is None  # signaling is not kept

        dump = await database_text(broker_cloud)
        output = capfd.readouterr()
        for canary in (CANARY_NAME, CANARY_NUMBER):
            assert canary not in dump
            assert canary not in output.out and canary not in output.err
        assert "call_accepted" in output.out + output.err  # the logs were captured
    finally:
        agent.stop()
        await asyncio.wait_for(running, 15)
