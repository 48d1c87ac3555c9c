"""A real pcscd with vsmartcard's vpcd reader and the virtual (fake) JPKI card, for the tests.

pcscd runs privately (`madoguchi.pcscd`: own reader.conf directory, own socket) once per
test session; the process points pyscard at it with `PCSCLITE_CSOCK_NAME`, set before the
first PC/SC call because libpcsclite reads the variable once. A machine without pcscd or the
vpcd driver fails loudly with the command that installs them; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from edge.peripherals.virtual_card import VirtualJpkiCard
from madoguchi.pcscd import SOCKET_ENV, PcscdNotFoundError, PcscdProcess
from protocol.v1.card import CardState
from tests.servers import MissingServerError


def start_pcscd() -> PcscdProcess:
    try:
        process = PcscdProcess()
    except PcscdNotFoundError as exc:
        raise MissingServerError(str(exc)) from exc
    process.start()
    return process


# Fixtures are registered under `name=` so a test module can import them without its
# parameters shadowing the imported names (ruff F811).
@pytest.fixture(scope="session", name="pcscd_session")
def pcscd_session_fixture() -> Iterator[PcscdProcess]:
    try:
        process = start_pcscd()
    except MissingServerError as exc:
        pytest.fail(str(exc))
    previous = os.environ.get(SOCKET_ENV)
    os.environ[SOCKET_ENV] = str(process.socket_path)
    try:
        yield process
    finally:
        process.stop()
        if previous is None:
            os.environ.pop(SOCKET_ENV, None)
        else:
            os.environ[SOCKET_ENV] = previous


@pytest.fixture(name="pcscd")
def pcscd_fixture(pcscd_session: PcscdProcess) -> Iterator[PcscdProcess]:
    """The session's pcscd, running at the start of each test (a test may stop it)."""
    pcscd_session.start()
    yield pcscd_session
    pcscd_session.start()


@pytest.fixture(name="virtual_card")
def virtual_card_fixture(pcscd: PcscdProcess) -> Iterator[VirtualJpkiCard]:
    """A fake My Number Card for reader slot 0, not yet inserted; removed after the test."""
    card = VirtualJpkiCard(pcscd.card_ports[0])
    yield card
    remove_and_wait(card, pcscd.reader_names[0])


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def reader_has_card(reader: str) -> bool:
    """Presence as pcscd sees it (pcscd polls vpcd about every 0.4 s)."""
    from smartcard import scard

    hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return False
    try:
        hr, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return hr == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def insert_and_wait(card: VirtualJpkiCard, reader: str, *, timeout: float = 3.0) -> None:
    # pcscd may not have noticed an earlier removal yet; "present" must be this card.
    wait_until(lambda: not reader_has_card(reader), timeout=timeout)
    card.insert()
    wait_until(lambda: reader_has_card(reader), timeout=timeout)


def remove_and_wait(card: VirtualJpkiCard, reader: str, *, timeout: float = 3.0) -> None:
    card.remove()
    wait_until(lambda: not reader_has_card(reader), timeout=timeout)


async def next_state(
    stream: AsyncIterator[CardState],
    predicate: Callable[[CardState], bool] = lambda _: True,
    *,
    timeout: float = 5.0,
    seen: list[CardState] | None = None,
) -> CardState:
    """The next state from `watch()` matching `predicate`; the ones passed go to `seen`."""

    async def find() -> CardState:
        while True:
            state = await anext(stream)
            if seen is not None:
                seen.append(state)
            if predicate(state):
                return state

    return await asyncio.wait_for(find(), timeout)
