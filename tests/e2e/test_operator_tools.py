"""The operator's tools over the real data channel, end to end: the card reader's state, the
PIN step (screen blacked out), remote control of the kiosk screen, the face photo and the
application form.

Real parts: Mosquitto, the control plane, the kiosk agent (aiortc), pcscd with the vpcd
driver and the virtual JPKI card (the named fake: no physical card here), Xvfb with Chromium
in kiosk mode showing the resident screen (captured as the screen track and driven by XTest),
and a headless Chromium as the console. The face and document cameras are photographs
shown through the camera interface (no physical camera here).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import cv2
from playwright.async_api import Browser, Page, expect

from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.engine import transaction
from edge.agent import KioskAgent
from edge.peripherals.virtual_card import VirtualJpkiCard
from madoguchi.pcscd import PcscdProcess
from tests.cloud.conftest import PASSWORD, Cloud, serving
from tests.e2e.test_call import database_text, operator_console, wait_for_media
from tests.edge.form_images import form_photo
from tests.edge.helpers import edge_settings
from tests.edge.photo_images import good_astronaut, kiosk_frame
from tests.mqtt_clients import client_for
from tests.pcsc import (
    insert_and_wait,
    remove_and_wait,
)
from tests.servers import Broker, VictoriaMetrics, Xvfb

# An obviously fake application ID (申請書ID): 23 digits, personal data in real life.
APPLICATION_ID = "20261125000000000012345"
# A PIN the resident types (through the kiosk's keyboard path into the browser's field),
# looked for as a whole number so that it cannot match inside a port or a timestamp.
PIN = "739204"
PIN_ALONE = re.compile(r"(?<![0-9])739204(?![0-9])")


async def capture_kiosk_messages(broker: Broker, payloads: list[bytes]) -> None:
    """Every message any kiosk sends, as the broker delivers it (the cloud's identity may
    read every kiosk topic)."""
    async with client_for(broker, "cloud.madoguchi", client_id="pd-scan") as client:
        await client.subscribe("madoguchi/v1/kiosk/#", qos=1)
        async for message in client.messages:
            payloads.append(bytes(message.payload))  # type: ignore[arg-type]


# The mean brightness of the kiosk-screen video as the console decodes it.
SCREEN_BRIGHTNESS = """() => {
  const video = document.getElementById("kiosk-screen");
  const canvas = document.createElement("canvas");
  canvas.width = 160; canvas.height = 100;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, 160, 100);
  const pixels = context.getImageData(0, 0, 160, 100).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
  return sum / (pixels.length / 4) / 3;
}"""


async def screen_brightness(
    console: Page, *, below: float | None = None, above: float | None = None
) -> float:
    """Waits until the decoded kiosk screen is darker than `below` / brighter than `above`."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        value: float = await console.evaluate(SCREEN_BRIGHTNESS)
        if (below is None or value < below) and (above is None or value > above):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"kiosk screen brightness stayed at {value:.1f}")
        await asyncio.sleep(0.3)


async def click_in_console(console: Page, fx: float, fy: float) -> None:
    """Click the console's kiosk-screen video at (fx, fy) of the kiosk screen."""
    await console.locator("#kiosk-screen").scroll_into_view_if_needed()
    point = await console.evaluate(
        """([fx, fy]) => {
          const video = document.getElementById("kiosk-screen");
          const r = video.getBoundingClientRect();
          const scale = Math.min(r.width / video.videoWidth, r.height / video.videoHeight);
          const w = video.videoWidth * scale, h = video.videoHeight * scale;
          return [r.left + (r.width - w) / 2 + fx * w, r.top + (r.height - h) / 2 + fy * h];
        }""",
        [fx, fy],
    )
    await console.mouse.click(point[0], point[1])


async def page_offset(console: Page, kiosk: Page) -> tuple[float, float]:
    """Where the kiosk page sits on the screen, measured with a click on an empty corner
    sent from the console (the test's kiosk window has browser chrome above the page; a real
    kiosk runs full screen)."""
    await kiosk.evaluate(
        """() => { window.pageOffset = null; addEventListener("pointerdown", (e) => {
             window.pageOffset = [e.screenX - e.clientX, e.screenY - e.clientY];
           }, { once: true }); }"""
    )
    await click_in_console(console, 0.01, 0.99)
    async with asyncio.timeout(10):
        while (offset := await kiosk.evaluate("window.pageOffset")) is None:
            await asyncio.sleep(0.1)
    return offset[0], offset[1]


async def click_on_kiosk(console: Page, target: Any, offset: tuple[float, float]) -> None:
    """Click, from the console, where `target` is on the kiosk screen."""
    box = await target.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2 + offset[0]
    y = box["y"] + box["height"] / 2 + offset[1]
    await click_in_console(console, x / 1280, y / 800)


async def test_operator_checks_the_card_photographs_reads_the_form_and_drives_the_screen(
    broker: Broker,
    broker_cloud: Cloud,
    browser: Browser,
    kiosk_browser: Browser,
    xvfb: Xvfb,
    pcscd: PcscdProcess,
    victoria_metrics: VictoriaMetrics,
    state_dir: Path,
    tmp_path: Path,
    capfd: Any,
) -> None:
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), kiosk_frame(good_astronaut()))
    form = tmp_path / "form.png"
    cv2.imwrite(str(form), form_photo(APPLICATION_ID))
    session_dir = Path("/dev/shm") / f"madoguchi-e2e-{os.getpid()}"
    card = VirtualJpkiCard(pcscd.card_ports[0])
    card.set_tries(user_auth=1)  # one wrong PIN away from locked
    insert_and_wait(card, pcscd.reader_names[0])

    async with transaction(broker_cloud.app.state.sessions) as db:
        await create_user(
            db=db, username="op-tools", password=PASSWORD, role=Role.OPERATOR, display_name="佐藤"
        )
    agent = KioskAgent(
        edge_settings(
            broker,
            "tools-k1",
            state_dir,
            calls=True,
            resident_port=0,
            camera=f"image:{face}",
            document_camera=f"image:{form}",
            card_reader=f"pcsc:{pcscd.reader_names[0]}",
            screen_capture=f"x11:{xvfb.display}",
            microphone="tone",
            session_dir=session_dir,
        )
    )
    mqtt_payloads: list[bytes] = []
    capture = asyncio.create_task(capture_kiosk_messages(broker, mqtt_payloads))
    running = asyncio.create_task(agent.run())
    try:
        async with serving(broker_cloud) as address:
            await asyncio.wait_for(agent.link.connected.wait(), 15)
            assert agent.resident_screen is not None
            kiosk = await kiosk_browser.new_page()
            await kiosk.goto(agent.resident_screen.url)
            console = await operator_console(browser, f"http://{address}", "op-tools")
            await console.get_by_role("button", name="受付開始").click()
            await expect(console.locator("#presence")).to_have_text("受付中")
            await kiosk.get_by_role("button", name="はじめる").click()
            await kiosk.get_by_role("button", name="同意して進む").click()
            await kiosk.get_by_role("button", name="通話する").click()
            ringing = console.get_by_role("row").filter(has_text="tools-k1")
            await ringing.get_by_role("button", name="応答").click(timeout=20_000)
            await expect(kiosk.get_by_text("担当：佐藤")).to_be_visible(timeout=20_000)
            await wait_for_media(console, frames=5)
            # The state at the start of the call, sent before the channel opened, arrived.
            await expect(console.locator("#privacy-state")).to_have_text("遠隔操作なし")

            # The card: a My Number Card whose user-authentication PIN has one try left.
            await expect(console.locator("#card-user-auth")).to_have_text("残り1回")
            await expect(console.locator("#card-user-auth")).to_have_class("warn")
            await expect(console.locator("#card-input-support")).to_have_text("残り3回")
            await expect(console.locator("#card-state")).to_contain_text("市役所の窓口をご案内")
            assert card.user_auth_tries == 1  # looking never costs a try
            remove_and_wait(card, pcscd.reader_names[0])
            await expect(console.locator("#card-state")).to_have_text("カードが置かれていません")

            # The PIN step: the operator's view of the screen goes black, the resident is told.
            await screen_brightness(console, above=100)
            await console.get_by_role("button", name="暗証番号の入力段階にする").click()
            await expect(kiosk.locator("#pin-protected")).to_be_visible()
            await expect(console.locator("#privacy-state")).to_contain_text("暗証番号の入力段階")
            assert await screen_brightness(console, below=5) < 5
            await console.get_by_role("button", name="暗証番号の入力段階を終える").click()
            await expect(kiosk.locator("#pin-protected")).to_be_hidden()
            await screen_brightness(console, above=100)

            # Remote control: the operator clicks "English" on the kiosk screen from the console.
            await console.get_by_role("button", name="遠隔操作を開始").click()
            await expect(kiosk.locator("#operator-control")).to_be_visible()
            offset = await page_offset(console, kiosk)
            english = kiosk.get_by_role("button", name="English", exact=True)
            await click_on_kiosk(console, english, offset)
            await expect(kiosk.locator("html")).to_have_attribute("lang", "en")
            await expect(kiosk.locator("#operator-control")).to_have_text(
                "The operator is operating this screen"
            )
            # While the PIN step holds, the same click does nothing.
            await console.get_by_role("button", name="暗証番号の入力段階にする").click()
            await expect(console.locator("#privacy-state")).to_contain_text("遠隔操作は停止")
            await click_on_kiosk(console, kiosk.get_by_role("button", name="日本語"), offset)
            # The console holds back; a console that sent anyway is refused by the kiosk.
            await console.evaluate(
                "() => window.madoguchi.sendAction({ type: 'pointer', action: 'down',"
                " x: 0.3, y: 0.9, button: 'left' })"
            )
            async with asyncio.timeout(10):
                while not await console.evaluate(
                    "() => window.madoguchi.results.some((r) => r.type === 'remote_refused'"
                    " && r.reason === 'blocked_pin_entry')"
                ):
                    await asyncio.sleep(0.2)
            await expect(kiosk.locator("html")).to_have_attribute("lang", "en")
            await console.get_by_role("button", name="暗証番号の入力段階を終える").click()

            # The face photo: live guidance, then a compliant 35:45 JPEG.
            await console.get_by_role("button", name="撮影ガイドを表示").click()
            await expect(console.locator("#photo-guidance")).not_to_be_empty()
            await expect(console.locator("#face-outline")).to_be_visible()
            await console.get_by_role("button", name="撮影する").click()
            await expect(console.locator("#photo-verdict")).to_have_text(
                "規格に適合しています", timeout=20_000
            )
            image = console.locator("#photo-image")
            await expect(image).to_be_visible()
            width, height = await image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
            assert width >= 480 and abs(height - width * 45 / 35) <= 1
            photos = list(session_dir.glob("tools-k1/*/photo.jpg"))
            assert len(photos) == 1  # kept for the upload, in RAM, during the call only
            photo_canary = base64.b64encode(photos[0].read_bytes()[200:260]).decode()

            # The application form: read, shown to the operator, typed into the kiosk's field.
            await console.get_by_role("button", name="申請書を読み取る").click()
            await expect(console.locator("#form-result")).to_have_text(
                "2026 1125 0000 0000 0012 345", timeout=20_000
            )
            await kiosk.evaluate(
                "() => { const i = document.createElement('input'); i.id = 'application-id';"
                " document.querySelector('#in_call').append(i); i.focus(); }"
            )
            await console.get_by_role("button", name="申請書IDを端末の入力欄に入力").click()
            await expect(kiosk.locator("#application-id")).to_have_value(APPLICATION_ID)
            # The resident types a PIN: its keys reach the kiosk's browser through X (as the
            # tenkey's do), the guard is up meanwhile.
            await kiosk.evaluate(
                "() => { const i = document.createElement('input'); i.id = 'pin';"
                " i.type = 'password'; document.querySelector('#in_call').append(i); i.focus(); }"
            )
            agent.tools.tenkey_key(enter=False)
            await expect(kiosk.locator("#pin-protected")).to_be_visible()
            await kiosk.keyboard.type(PIN)
            agent.tools.tenkey_key(enter=True)
            await expect(kiosk.locator("#pin")).to_have_value(PIN)

            await console.get_by_role("button", name="通話終了").click()
            await expect(kiosk.locator("#operator-control")).to_be_hidden()
            assert not photos[0].exists()  # the session's files are gone with the call

        # The application ID, the photo and the PIN travelled only in the encrypted call:
        # not in the database, any log line, any message a kiosk sent, or the time series.
        dump = await database_text(broker_cloud)
        output = capfd.readouterr()
        assert mqtt_payloads, "the kiosk's messages were captured"
        sent = b"\n".join(mqtt_payloads).decode("utf-8", "replace")
        series = json.dumps(victoria_metrics.export('{kiosk_id="tools-k1"}'))
        assert "kiosk_" in series  # the kiosk's telemetry is there to be scanned
        for place in (dump, output.out, output.err, sent, series):
            for canary in (APPLICATION_ID, photo_canary):
                assert canary not in place
            assert not PIN_ALONE.search(place)
        assert "photo_captured" in output.out + output.err  # the logs were captured
    finally:
        capture.cancel()
        card.remove()
        agent.stop()
        await asyncio.wait_for(running, 15)
        for leftover in session_dir.glob("**/*"):
            if leftover.is_file():
                leftover.unlink()
