"""The operator's tools on the kiosk, with real devices behind them where they can run here
(pcscd with the virtual card, photographs through the camera interface, the face models), and
the faults an operator must get a clear answer for: no camera picture, a missing document
camera, a form without a code, the card reader's service gone mid-call, actions out of order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import BaseModel

from edge.call.operator_tools import KioskDevices, OperatorTools
from edge.media.sources import StillImageCamera
from edge.media.tracks import LatestFrameTrack
from edge.peripherals.card_reader import CardReader
from edge.peripherals.virtual_card import VirtualJpkiCard
from edge.session_files import SessionFiles
from madoguchi.pcscd import PcscdProcess
from protocol.v1.card import CardState
from protocol.v1.datachannel import (
    KIOSK_EVENT,
    CardCheck,
    FormFill,
    FormScan,
    PhotoCapture,
    PhotoCaptured,
    PhotoChunk,
    PinStep,
    PrivacyState,
    RemoteControl,
)
from protocol.v1.forms import FormReadResult
from tests.edge.photo_images import good_astronaut, kiosk_frame
from tests.pcsc import (
    insert_and_wait,
    remove_and_wait,
)


class Console:
    """What the operator's console receives: every event, checked against the wire contract."""

    def __init__(self) -> None:
        self.events: list[BaseModel] = []
        self.indicators: list[tuple[bool, bool]] = []
        self._arrived = asyncio.Event()

    def send(self, event: BaseModel) -> None:
        # Round-trip through the contract the browser reads.
        self.events.append(KIOSK_EVENT.validate_json(event.model_dump_json()))
        self._arrived.set()

    def indicate(self, operator_control: bool, pin_protected: bool) -> None:
        self.indicators.append((operator_control, pin_protected))

    async def next(self, kind: type[BaseModel], timeout: float = 20.0) -> BaseModel:
        async with asyncio.timeout(timeout):
            while True:
                for index, event in enumerate(self.events):
                    if isinstance(event, kind):
                        return self.events.pop(index)
                self._arrived.clear()
                await self._arrived.wait()


async def camera_track(image: np.ndarray, path: Path) -> LatestFrameTrack:
    cv2.imwrite(str(path), image)
    track = LatestFrameTrack(StillImageCamera(path, fps=20))
    await track.recv()  # starts the reader: the newest frame is there from now on
    return track


@pytest.fixture
async def session_dir(tmp_path: Path) -> AsyncIterator[Path]:
    directory = Path("/dev/shm") / f"madoguchi-tools-{tmp_path.name}"
    yield directory
    SessionFiles(directory).clean_stale()
    directory.rmdir()


async def test_actions_without_a_call_are_refused_and_a_missing_camera_is_said(
    session_dir: Path,
) -> None:
    tools = OperatorTools(KioskDevices(), SessionFiles(session_dir))
    assert await tools.handle(PhotoCapture()) == "通話中ではありません"
    console = Console()
    await tools.attach(send=console.send, camera=None, screen=None, indicators=console.indicate)
    first = await console.next(PrivacyState)
    assert first == PrivacyState(pin_guard=False, reasons=(), remote_control=False)
    assert await tools.handle(PhotoCapture()) == (
        "カメラの映像がありません。カメラの接続を確認してください"
    )
    assert await tools.handle(FormScan()) == "書類カメラがありません"
    assert await tools.handle(FormFill()) == "先に申請書を読み取ってください"
    assert await tools.handle(CardCheck()) == "カードリーダーがありません"
    assert await tools.handle(RemoteControl(enabled=True)) == "この端末では遠隔操作できません"
    await tools.close()


async def test_a_photo_is_captured_checked_sent_in_chunks_and_wiped_with_the_call(
    tmp_path: Path, session_dir: Path
) -> None:
    files = SessionFiles(session_dir)
    tools = OperatorTools(KioskDevices(), files)
    console = Console()
    camera = await camera_track(kiosk_frame(good_astronaut()), tmp_path / "face.png")
    try:
        await tools.attach(
            send=console.send, camera=camera, screen=None, indicators=console.indicate
        )
        assert await tools.handle(PhotoCapture()) is None
        captured = await console.next(PhotoCaptured)
        assert isinstance(captured, PhotoCaptured)
        assert captured.report.ok, captured.report.problems
        chunks = [await console.next(PhotoChunk) for _ in range(captured.chunks)]
        jpeg = "".join(c.data for c in chunks if isinstance(c, PhotoChunk))
        import base64

        data = base64.b64decode(jpeg)
        assert len(data) == captured.jpeg_bytes and data[:2] == b"\xff\xd8"
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert abs(decoded.shape[0] - decoded.shape[1] * 45 / 35) <= 1
        assert files.current is not None
        assert (files.current / "photo.jpg").read_bytes() == data
        kept = files.current
        await tools.detach()
        assert not kept.exists()
    finally:
        camera.stop()
        await tools.close()


async def test_a_frame_without_a_face_gives_a_report_and_no_photo(
    tmp_path: Path, session_dir: Path
) -> None:
    tools = OperatorTools(KioskDevices(), SessionFiles(session_dir))
    console = Console()
    empty_room = np.full((720, 1280, 3), 200, np.uint8)
    camera = await camera_track(empty_room, tmp_path / "room.png")
    try:
        await tools.attach(
            send=console.send, camera=camera, screen=None, indicators=console.indicate
        )
        await tools.handle(PhotoCapture())
        captured = await console.next(PhotoCaptured)
        assert isinstance(captured, PhotoCaptured)
        assert not captured.report.ok and captured.chunks == 0
        assert captured.report.problems[0].code == "no_face"
        assert captured.report.problems[0].message_ja  # said in words to the operator
    finally:
        camera.stop()
        await tools.close()


async def test_form_scan_faults_and_the_id_is_never_logged(
    tmp_path: Path, session_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.edge.form_images import form_photo

    application_id = "20261125999999999912345"
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), form_photo(None))
    form = tmp_path / "form.png"
    cv2.imwrite(str(form), form_photo(application_id))
    for camera, expected in (
        (f"image:{tmp_path / 'unplugged.png'}", "camera_unavailable"),
        (f"image:{blank}", "no_code"),
    ):
        tools = OperatorTools(KioskDevices(document_camera=camera), SessionFiles(session_dir))
        console = Console()
        await tools.attach(send=console.send, camera=None, screen=None, indicators=console.indicate)
        assert await tools.handle(FormScan()) is None
        result = await console.next(FormReadResult)
        assert isinstance(result, FormReadResult)
        assert (result.error, result.application_id) == (expected, None)
        assert result.message_ja
        await tools.close()
    tools = OperatorTools(KioskDevices(document_camera=f"image:{form}"), SessionFiles(session_dir))
    console = Console()
    await tools.attach(send=console.send, camera=None, screen=None, indicators=console.indicate)
    await tools.handle(FormScan())
    result = await console.next(FormReadResult)
    assert isinstance(result, FormReadResult) and result.application_id == application_id
    # No remote control on this kiosk: typing it in is refused with a reason.
    assert await tools.handle(FormFill()) == "この端末では入力できません"
    await tools.close()
    output = capsys.readouterr()
    assert application_id not in output.out + output.err


async def test_the_pin_guard_blanks_the_screen_and_tells_both_sides(
    tmp_path: Path, session_dir: Path
) -> None:
    tools = OperatorTools(KioskDevices(), SessionFiles(session_dir))
    console = Console()
    screen = await camera_track(np.full((200, 320, 3), 230, np.uint8), tmp_path / "screen.png")
    try:
        await tools.attach(
            send=console.send, camera=None, screen=screen, indicators=console.indicate
        )
        await console.next(PrivacyState)
        tools.tenkey_key(enter=False)  # the resident starts typing a PIN
        state = await console.next(PrivacyState)
        assert state == PrivacyState(pin_guard=True, reasons=("tenkey",), remote_control=False)
        assert screen.blanked and console.indicators[-1] == (False, True)
        assert (await screen.recv()).to_ndarray(format="rgb24").max() == 0
        assert await tools.handle(PinStep(active=True)) is None
        both = await console.next(PrivacyState)
        assert isinstance(both, PrivacyState) and both.reasons == ("operator", "tenkey")
        tools.tenkey_key(enter=True)
        await tools.handle(PinStep(active=False))
        assert not screen.blanked and console.indicators[-1] == (False, False)
        await tools.detach()
        tools.tenkey_key(enter=False)  # no call: nothing to guard
        assert not tools.guard.active
    finally:
        screen.stop()
        await tools.close()


async def test_the_card_state_follows_the_reader_through_a_pcscd_restart(
    pcscd: PcscdProcess, session_dir: Path
) -> None:
    reader = pcscd.reader_names[0]
    card = VirtualJpkiCard(pcscd.card_ports[0])
    insert_and_wait(card, reader)
    tools = OperatorTools(KioskDevices(card_reader=CardReader(reader)), SessionFiles(session_dir))
    console = Console()
    try:
        await tools.attach(send=console.send, camera=None, screen=None, indicators=console.indicate)
        first = await console.next(CardState)
        assert isinstance(first, CardState)
        assert (first.card, first.user_auth_pin_tries) == ("mynumber", 3)
        card.set_tries(user_auth=2)  # a wrong PIN typed in the browser's software
        assert await tools.handle(CardCheck()) is None
        checked = await console.next(CardState)
        assert isinstance(checked, CardState) and checked.user_auth_pin_tries == 2
        pcscd.stop()  # the reader's service gone mid-call
        gone = await console.next(CardState)
        assert isinstance(gone, CardState) and gone.reader == "service_unavailable"
        pcscd.start()  # back: the reader is there again, the card has to be put back
        back = await console.next(CardState)
        assert isinstance(back, CardState) and (back.reader, back.card) == ("present", "none")
        card.remove()
        insert_and_wait(card, reader)
        again = await console.next(CardState)
        assert isinstance(again, CardState)
        assert (again.card, again.user_auth_pin_tries) == ("mynumber", 2)
    finally:
        await tools.close()
        remove_and_wait(card, reader)
