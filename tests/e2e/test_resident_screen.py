"""The resident screen in a real Chromium: touch-only flow, languages, consent versions,
queue position, and the loopback/origin guards."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from playwright.async_api import Browser, expect
from websockets.exceptions import InvalidStatus

from edge.call.controller import CallController
from edge.resident.server import HERE, ResidentScreen
from edge.session import ResidentSession
from protocol.v1 import CallMessage


class Sender:
    """Stands in for the MQTT outbox: records what the controller would send."""

    def __init__(self) -> None:
        self.online = True
        self.sent: list[tuple[str, uuid.UUID, dict[str, Any]]] = []

    def __call__(self, action: str, call_id: uuid.UUID, **fields: Any) -> bool:
        if not self.online:
            return False
        self.sent.append((action, call_id, fields))
        return True


def no_peer(**_: Any) -> Any:
    raise AssertionError("no call is assigned in this test")


def cloud_says(call_id: uuid.UUID, action: str, **fields: Any) -> CallMessage:
    return CallMessage.model_validate(
        {
            "kiosk_id": "screen-k1",
            "sent_at": datetime.now(UTC),
            "seq": 1,
            "call_id": call_id,
            "action": action,
            **fields,
        },
        strict=False,
    )


def test_translations_are_complete() -> None:
    texts = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in (HERE / "i18n").glob("*.json")
    }
    assert set(texts) == {"ja", "en", "zh", "ko", "vi"}
    assert set(texts["en"]) == set(texts["ja"])  # English complete
    for language, table in texts.items():
        assert set(table) <= set(texts["ja"]), language  # no stray keys
        assert all(isinstance(v, str) and v for v in table.values()), language


def test_the_screen_listens_on_loopback_only() -> None:
    controller = CallController(
        send=Sender(),
        consent_versions=lambda: ("1", "1"),
        make_peer=no_peer,
        session=ResidentSession(),
    )
    with pytest.raises(ValueError, match="loopback"):
        ResidentScreen(controller, host="0.0.0.0", port=0)  # noqa: S104 - the point of the test


async def test_resident_flow_in_english_with_queue_position(browser: Browser) -> None:
    sender = Sender()
    session = ResidentSession()
    controller = CallController(
        send=sender,
        consent_versions=lambda: ("2026-04", "2026-05"),
        make_peer=no_peer,
        session=session,
    )
    screen = ResidentScreen(controller, host="127.0.0.1", port=0)
    await screen.start()
    try:
        page = await browser.new_page()
        await page.goto(screen.url)
        await expect(page.get_by_role("button", name="はじめる")).to_be_visible()
        await page.get_by_role("button", name="English").click()
        await expect(
            page.get_by_role("heading", name="My Number Card Online Counter")
        ).to_be_visible()
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page.get_by_text("Terms of use (version 2026-04)")).to_be_visible()
        await expect(page.get_by_text("(version 2026-05)")).to_be_visible()
        await page.get_by_role("button", name="Do not agree").click()
        await expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()

        # The control plane unreachable: the resident is told, nothing is queued for later.
        sender.online = False
        await page.get_by_role("button", name="Start", exact=True).click()
        await page.get_by_role("button", name="Agree and continue").click()
        await page.get_by_role("button", name="Call", exact=True).click()
        await expect(page.get_by_text("No operator can be reached right now")).to_be_visible()
        assert sender.sent == []
        await page.get_by_role("button", name="Back to start").click()
        # The next resident starts in Japanese.
        await expect(page.get_by_role("button", name="はじめる")).to_be_visible()
        await page.get_by_role("button", name="English").click()

        sender.online = True
        await page.get_by_role("button", name="Start", exact=True).click()
        await page.get_by_role("button", name="Agree and continue").click()
        await page.get_by_role("button", name="Call", exact=True).click()
        await expect(page.get_by_text("Checking your place in line…")).to_be_visible()
        [(action, call_id, fields)] = sender.sent
        assert action == "request"
        assert fields == {
            "language": "en",
            "terms_version": "2026-04",
            "privacy_version": "2026-05",
        }

        await controller.on_cloud(
            cloud_says(call_id, "queued", queue_position=2, estimated_wait_s=540)
        )
        await expect(page.get_by_text("You are number 2 in line")).to_be_visible()
        await expect(page.get_by_text("Estimated wait: about 9 min")).to_be_visible()
        await controller.on_cloud(cloud_says(call_id, "support_coming"))
        await expect(page.get_by_text("A staff member is coming to you")).to_be_visible()
        # A message about another call changes nothing.
        await controller.on_cloud(cloud_says(uuid.uuid4(), "queued", queue_position=1))
        await expect(page.get_by_text("You are number 2 in line")).to_be_visible()

        await page.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()
        assert [a for a, _, _ in sender.sent] == ["request", "cancel"]
        assert not session.active

        # A page from another origin cannot drive the kiosk.
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                f"ws://127.0.0.1:{screen.port}/ws",
                additional_headers={"Origin": "http://evil.example"},
            ):
                pass
        assert refused.value.response.status_code == 403
    finally:
        await screen.stop()
