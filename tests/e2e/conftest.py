"""A real headless Chromium (Debian's), driven by Playwright, against servers on loopback."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.cloud.conftest import broker_cloud, sqlite_cloud  # noqa: F401 - shared fixtures
from tests.servers import MissingServerError, Xvfb

# The suite shares two cores with real servers; a log-in (argon2id) can take seconds under
# load. Waiting longer costs nothing when things are quick.
expect.set_options(timeout=15_000)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The operator's browser: fake camera and microphone, no permission prompt, sound plays.
MEDIA_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make setup` (Debian package chromium)")
    return executable


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS + MEDIA_FLAGS
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Xvfb]:
    server = Xvfb()
    try:
        server.start()
    except MissingServerError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
async def kiosk_browser(xvfb: Xvfb) -> AsyncIterator[Browser]:
    """Chromium as on the kiosk: headed, full-screen kiosk mode, drawing on the X display
    that the agent's screen track captures."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=False,
            args=[*CHROMIUM_FLAGS, "--kiosk", "--window-position=0,0", "--window-size=1280,800"],
            env={**os.environ, "DISPLAY": xvfb.display},
        )
        yield launched
        await launched.close()
