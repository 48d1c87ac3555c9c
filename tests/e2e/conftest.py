"""A real headless Chromium (Debian's), driven by Playwright, against servers on loopback."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

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


async def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Log in through the form and wait for the landing page (generously: argon2id and a
    loaded machine), saying what the page showed if it did not get there."""
    await page.goto(f"{base_url}/login")
    await page.get_by_label("ユーザー名").fill(username)
    await page.get_by_label("パスワード").fill(password)
    await page.get_by_role("button", name="ログイン").click()
    try:
        await page.wait_for_url(f"{base_url}/", timeout=45_000)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"log-in as {username} did not land on {base_url}/: at {page.url}: "
            f"{(await page.content())[:600]}"
        ) from None
