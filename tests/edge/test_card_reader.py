"""The card reader against a real pcscd + vpcd and the virtual (fake) JPKI card. No mocks."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from smartcard import scard
from smartcard.System import readers as pcsc_readers
from typer.testing import CliRunner

from edge.peripherals import jpki
from edge.peripherals.card_reader import CardReader
from edge.peripherals.virtual_card import (
    MYNUMBER_LIKE_ATR,
    OTHER_ATR,
    FakePersonalData,
    VirtualJpkiCard,
)
from madoguchi.cli import app
from madoguchi.pcscd import PcscdProcess
from protocol.v1.card import CardState
from tests.pcsc import (
    insert_and_wait,
    next_state,
    remove_and_wait,
)

ROOT = Path(__file__).resolve().parents[2]


def _reader(pcscd: PcscdProcess) -> str:
    return pcscd.reader_names[0]


def _second_connection(reader: str):  # type: ignore[no-untyped-def]
    """Another program's shared-mode connection (as the browser's JPKI software makes)."""
    connection = next(r for r in pcsc_readers() if str(r) == reader).createConnection()
    connection.connect(mode=scard.SCARD_SHARE_SHARED, disposition=scard.SCARD_LEAVE_CARD)
    return connection


def _wrong_pin(reader: str, aid: bytes, ef: int) -> int:
    """Type a wrong PIN from a second connection; returns the status word."""
    connection = _second_connection(reader)
    try:
        _, sw1, sw2 = connection.transmit(jpki.select_application(aid))
        assert (sw1, sw2) == (0x90, 0x00)
        _, sw1, sw2 = connection.transmit(jpki.select_ef(ef))
        assert (sw1, sw2) == (0x90, 0x00)
        _, sw1, sw2 = connection.transmit([0x00, 0x20, 0x00, 0x80, 4, *b"9999"])
        return int((sw1 << 8) | sw2)
    finally:
        connection.disconnect()


# --- pure parts -----------------------------------------------------------------------------


def test_apdus_and_status_words() -> None:
    assert jpki.select_application(jpki.JPKI_AID) == [
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01
    ]  # fmt: skip
    assert jpki.select_ef(jpki.USER_AUTH_PIN_EF) == [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]
    assert jpki.verify_without_data() == [0x00, 0x20, 0x00, 0x80]
    assert jpki.parse_tries(0x63C2) == 2
    assert jpki.parse_tries(0x6984) == 0
    assert jpki.parse_tries(0x6983) == 0
    assert jpki.parse_tries(0x9000) is None
    assert jpki.status_word([0x90]) is None


def test_card_state_is_strict_and_consistent() -> None:
    with pytest.raises(ValidationError):
        CardState.of(reader="absent", card="mynumber")
    with pytest.raises(ValidationError):
        CardState.of(reader="present", card="other", user_auth_pin_tries=3)
    with pytest.raises(ValidationError):
        CardState.model_validate_json(
            '{"type": "card_state", "reader": "present", "message_ja": "x", "my_number": "1"}'
        )
    low = CardState.of(
        reader="present", card="mynumber", user_auth_pin_tries=3, input_support_pin_tries=1
    )
    assert low.needs_referral
    assert "残り回数が1回" in low.message_ja and "市役所の窓口" in low.message_ja
    blocked = CardState.of(
        reader="present", card="mynumber", user_auth_pin_tries=0, input_support_pin_tries=1
    )
    assert "ロックされています" in blocked.message_ja
    assert CardState.model_validate_json(blocked.model_dump_json()) == blocked


# --- detection --------------------------------------------------------------------------------


async def test_my_number_card_is_detected_by_its_application(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    reader = CardReader()
    assert (await reader.read_state()).card == "none"
    insert_and_wait(virtual_card, _reader(pcscd))
    state = await reader.read_state()
    assert state.reader == "present" and state.reader_name == _reader(pcscd)
    assert state.card == "mynumber"
    assert (state.user_auth_pin_tries, state.input_support_pin_tries) == (3, 3)
    assert state.problem is None and not state.needs_referral


async def test_detection_ignores_the_atr(pcscd: PcscdProcess) -> None:
    reader = CardReader()
    # A My Number Card with an ATR unlike the usual one is still a My Number Card …
    card = VirtualJpkiCard(pcscd.card_ports[0], atr=OTHER_ATR)
    insert_and_wait(card, _reader(pcscd))
    try:
        assert (await reader.read_state()).card == "mynumber"
    finally:
        remove_and_wait(card, _reader(pcscd))
    # … and another card with the usual ATR is not.
    other = VirtualJpkiCard(pcscd.card_ports[0], kind="other", atr=MYNUMBER_LIKE_ATR)
    insert_and_wait(other, _reader(pcscd))
    try:
        state = await reader.read_state()
        assert state.card == "other" and state.user_auth_pin_tries is None
        assert "マイナンバーカードではありません" in state.message_ja
    finally:
        remove_and_wait(other, _reader(pcscd))


async def test_a_card_that_does_not_answer_is_mute(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    virtual_card.kind = "mute"
    insert_and_wait(virtual_card, _reader(pcscd))
    state = await CardReader().read_state()
    assert state.card == "mute" and "応答しません" in state.message_ja


async def test_reader_filter(pcscd: PcscdProcess, virtual_card: VirtualJpkiCard) -> None:
    second = VirtualJpkiCard(pcscd.card_ports[1], kind="other")
    insert_and_wait(second, pcscd.reader_names[1])
    try:
        assert (await CardReader("00 01").read_state()).card == "other"
        assert (await CardReader("virtual pcd").read_state()).reader_name == _reader(pcscd)
        absent = await CardReader("no such reader").read_state()
        assert absent.reader == "absent" and "接続されていません" in absent.message_ja
    finally:
        remove_and_wait(second, pcscd.reader_names[1])


# --- PIN tries --------------------------------------------------------------------------------


async def test_tries_count_down_to_blocked(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    reader = CardReader()
    insert_and_wait(virtual_card, _reader(pcscd))
    # Wrong PINs typed by "the browser's software" on its own connection.
    assert _wrong_pin(_reader(pcscd), jpki.JPKI_AID, jpki.USER_AUTH_PIN_EF) == 0x63C2
    state = await reader.read_state()
    assert state.user_auth_pin_tries == 2 and not state.needs_referral
    assert _wrong_pin(_reader(pcscd), jpki.JPKI_AID, jpki.USER_AUTH_PIN_EF) == 0x63C1
    state = await reader.read_state()
    assert state.user_auth_pin_tries == 1 and state.needs_referral
    assert state.message_ja.startswith("利用者証明用電子証明書の暗証番号の残り回数が1回です")
    assert _wrong_pin(_reader(pcscd), jpki.JPKI_AID, jpki.USER_AUTH_PIN_EF) == 0x63C0
    state = await reader.read_state()
    assert state.user_auth_pin_tries == 0 and "ロックされています" in state.message_ja
    assert _wrong_pin(_reader(pcscd), jpki.JPKI_AID, jpki.USER_AUTH_PIN_EF) == 0x6983
    # The input-support PIN counts separately; set directly this time.
    virtual_card.set_tries(input_support=1)
    state = await reader.read_state()
    assert (state.user_auth_pin_tries, state.input_support_pin_tries) == (0, 1)
    virtual_card.set_tries(user_auth=3, input_support=3)
    assert (await reader.read_state()).input_support_pin_tries == 3


async def test_asking_for_tries_uses_none_and_sends_no_pin(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    reader = CardReader()
    virtual_card.set_tries(user_auth=2, input_support=1)
    insert_and_wait(virtual_card, _reader(pcscd))
    for _ in range(12):
        state = await reader.read_state()
        assert (state.user_auth_pin_tries, state.input_support_pin_tries) == (2, 1)
    assert (virtual_card.user_auth_tries, virtual_card.input_support_tries) == (2, 1)
    # Only SELECTs and data-less VERIFYs ever reached the card: no PIN, no READ BINARY.
    instructions = {(c.ins, c.data_length) for c in virtual_card.commands}
    assert instructions == {(0xA4, 10), (0xA4, 2), (0x20, 0)}


# --- sharing ---------------------------------------------------------------------------------


async def test_shared_mode_leaves_the_card_to_other_software(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    reader = CardReader()
    insert_and_wait(virtual_card, _reader(pcscd))
    other = _second_connection(_reader(pcscd))
    try:
        # Our read works while another program holds a shared connection …
        assert (await reader.read_state()).card == "mynumber"
        # … and that program can use the card right after, without reconnecting.
        _, sw1, sw2 = other.transmit(jpki.select_application(jpki.JPKI_AID))
        assert (sw1, sw2) == (0x90, 0x00)
    finally:
        other.disconnect()
    # A program holding the card exclusively makes a clear "busy" state, not an error.
    exclusive = next(r for r in pcsc_readers() if str(r) == _reader(pcscd)).createConnection()
    exclusive.connect(mode=scard.SCARD_SHARE_EXCLUSIVE)
    try:
        busy = await reader.read_state()
        assert (busy.card, busy.problem) == ("unknown", "card_busy")
    finally:
        exclusive.disconnect()
    assert (await reader.read_state()).card == "mynumber"


# --- watching --------------------------------------------------------------------------------


async def test_watch_yields_insert_and_remove_in_order(
    pcscd: PcscdProcess, virtual_card: VirtualJpkiCard
) -> None:
    reader = CardReader()
    stream = reader.watch()
    try:
        assert (await next_state(stream)).card == "none"
        virtual_card.insert()
        assert (await next_state(stream)).card == "mynumber"
        virtual_card.remove()
        assert (await next_state(stream)).card == "none"
        virtual_card.kind = "other"
        virtual_card.insert()
        assert (await next_state(stream)).card == "other"
        virtual_card.remove()
        assert (await next_state(stream)).card == "none"
        # A refresh re-reads the card that stays on the reader (after a PIN in the browser).
        virtual_card.kind = "mynumber"
        virtual_card.insert()
        assert (await next_state(stream)).user_auth_pin_tries == 3
        virtual_card.set_tries(user_auth=1)
        reader.refresh()
        assert (await next_state(stream)).user_auth_pin_tries == 1
    finally:
        await stream.aclose()


async def test_card_pulled_out_mid_read(pcscd: PcscdProcess, virtual_card: VirtualJpkiCard) -> None:
    reader = CardReader()
    virtual_card.pull_after(3)  # gone while the first VERIFY is on its way
    insert_and_wait(virtual_card, _reader(pcscd))
    state = await reader.read_state()
    assert state.problem == "read_interrupted" and state.card == "none"
    assert "読み取り中にカードが取り外されました" in state.message_ja

    stream = reader.watch()
    seen: list[CardState] = []
    try:
        await next_state(stream, lambda s: s.card == "none" and s.problem is None, seen=seen)
        virtual_card.insert()
        await next_state(stream, lambda s: s.problem == "read_interrupted", seen=seen)
        await next_state(stream, lambda s: s.card == "none" and s.problem is None, seen=seen)
        virtual_card.pull_after(None)
        virtual_card.insert()
        await next_state(stream, lambda s: s.card == "mynumber", seen=seen)
    finally:
        await stream.aclose()


async def test_pcscd_stopped_and_back(pcscd: PcscdProcess, virtual_card: VirtualJpkiCard) -> None:
    reader = CardReader()
    insert_and_wait(virtual_card, _reader(pcscd))
    stream = reader.watch()
    try:
        assert (await next_state(stream)).card == "mynumber"
        pcscd.stop()  # the reader (and the service) go away; the card drops with it
        state = await next_state(stream)
        assert state.reader == "service_unavailable"
        assert "サービスに接続できません" in state.message_ja
        assert (await reader.read_state()).reader == "service_unavailable"
        assert (await reader.status()).status == "error"
        assert virtual_card.wait_removed(3)
        pcscd.start()  # plugged in again
        state = await next_state(stream, timeout=8)
        assert (state.reader, state.card) == ("present", "none")
        virtual_card.insert()
        assert (await next_state(stream)).card == "mynumber"
    finally:
        await stream.aclose()


async def test_peripheral_driver(pcscd: PcscdProcess, virtual_card: VirtualJpkiCard) -> None:
    reader = CardReader()
    assert (reader.name, reader.simulated) == ("card_reader", False)
    status = await reader.status()
    assert (status.status, status.simulated) == ("ok", False)
    assert status.detail == f"{_reader(pcscd)}: card none"
    insert_and_wait(virtual_card, _reader(pcscd))
    assert (await reader.status()).detail == f"{_reader(pcscd)}: card present"
    assert (await reader.self_test()).detail == f"{_reader(pcscd)}: card mynumber"
    absent = await CardReader("nothing like it").self_test()
    assert absent.status == "absent"


# --- command line and privacy ----------------------------------------------------------------


def test_cli_status_json(pcscd: PcscdProcess, virtual_card: VirtualJpkiCard) -> None:
    virtual_card.set_tries(user_auth=1)
    insert_and_wait(virtual_card, _reader(pcscd))
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "card", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, **pcscd.env()},
    )
    assert result.returncode == 0, result.stderr
    state = CardState.model_validate_json(result.stdout)
    assert (state.card, state.user_auth_pin_tries, state.input_support_pin_tries) == (
        "mynumber",
        1,
        3,
    )
    text = CliRunner().invoke(app, ["card", "status", "--reader", "00 00"])
    assert text.exit_code == 0 and "利用者証明用暗証番号の残り回数: 1回" in text.output
    missing = CliRunner().invoke(app, ["card", "status", "--json", "--reader", "nope"])
    assert missing.exit_code == 1 and json.loads(missing.output)["reader"] == "absent"
    watched = CliRunner().invoke(app, ["card", "status", "--watch", "--json", "--count", "1"])
    assert watched.exit_code == 0 and json.loads(watched.output)["card"] == "mynumber"


def test_no_personal_data_leaves_the_card(
    pcscd: PcscdProcess, caplog: pytest.LogCaptureFixture
) -> None:
    # Sync test: the CLI runs its own event loop (asyncio.run) like in a terminal.
    personal = FakePersonalData(
        my_number="123456789018", name="偽名 花子", address="沖縄県浦添市テスト町9-9-9"
    )
    card = VirtualJpkiCard(pcscd.card_ports[0], personal=personal)
    caplog.set_level(logging.DEBUG)
    reader = CardReader()

    async def read_and_watch() -> list[str]:
        found = [(await reader.read_state()).model_dump_json()]
        stream = reader.watch()
        try:
            found.append((await next_state(stream)).model_dump_json())
        finally:
            await stream.aclose()
        return found

    insert_and_wait(card, _reader(pcscd))
    try:
        outputs = asyncio.run(read_and_watch())
        outputs.append(CliRunner().invoke(app, ["card", "status", "--json"]).output)
        outputs.append(CliRunner().invoke(app, ["card", "status"]).output)
    finally:
        remove_and_wait(card, _reader(pcscd))
    # The fake card really holds the data (readable after a correct PIN) …
    held = b"".join(card._apps[jpki.INPUT_SUPPORT_AID].files.values())
    assert personal.my_number.encode() in held
    # … yet none of it, nor the certificate, appears in any state, output or log.
    haystack = "\n".join([*outputs, caplog.text, pcscd.log])
    for secret in (personal.my_number, personal.name, personal.address, "FAKE-USER-AUTH"):
        assert secret not in haystack
    assert personal.certificate.hex() not in haystack.lower()
    assert all(c.ins != jpki.INS_READ_BINARY for c in card.commands)
    assert all(json.loads(o)["card"] == "mynumber" for o in outputs[:3])
    assert "マイナンバーカード" in outputs[3]
