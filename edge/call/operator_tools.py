"""What the operator does with the kiosk during a call, over the data channel.

The operator's actions (protocol/v1/datachannel.py) arrive here one at a time, in order; long
work (a photo check, a form scan) runs on a worker thread and answers later, so the pointer
never waits behind it. Everything a resident could be identified by — the photo, the
application ID, the PIN — stays between this module and the operator's browser: nothing of it
is logged, and the photo is kept only in the session's RAM directory.

The PIN guard (edge/privacy) ties three things together while a PIN may be typed: the screen
track goes black, remote input is refused, and the resident screen says the operator sees
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import structlog
from pydantic import BaseModel

from edge.media.sources import open_source
from edge.media.tracks import LatestFrameTrack
from edge.peripherals.card_reader import CardReader
from edge.photo import PhotoError, PhotoSettings, check, fix, guidance
from edge.privacy.pin_guard import GuardReason, GuardTimeouts, PinGuard
from edge.remote.control import RemoteControl
from edge.remote.injector import XTestInjector
from edge.session_files import SessionFiles
from protocol.v1.datachannel import (
    PHOTO_CHUNK_CHARS,
    CardCheck,
    ClearScreen,
    FormFill,
    FormScan,
    OperatorAction,
    PhotoCapture,
    PhotoCaptured,
    PhotoChunk,
    PhotoPreview,
    PinStep,
    PrivacyState,
    ShowReferral,
)
from protocol.v1.datachannel import (
    RemoteControl as RemoteControlAction,
)
from protocol.v1.forms import FormReadResult
from protocol.v1.photo import PhotoProblem, PhotoReport
from protocol.v1.remote import BlockReason, KeyInput, PointerInput, TextInput

log = structlog.get_logger("edge.call.tools")

T = TypeVar("T")
CARD_RECHECK_AFTER_ENTER_S = (2.0, 6.0)
CHECK_FAILED_JA = "写真を確認できませんでした。もう一度撮影してください"
SendEvent = Callable[[BaseModel], None]
Indicators = Callable[[bool, bool], None]  # (operator_control, pin_protected)

_BLOCK_REASONS: dict[GuardReason, BlockReason] = {
    GuardReason.TENKEY: "tenkey_pin_entry",
    GuardReason.OPERATOR: "operator_pin_step",
}


@dataclass(frozen=True)
class KioskDevices:
    """The devices the operator's tools use; None where the kiosk has none."""

    card_reader: CardReader | None = None
    document_camera: str | None = None  # a source spec (edge/media/sources.py)
    display: str | None = None  # the kiosk's X display, for remote control
    photo: PhotoSettings = field(default_factory=PhotoSettings)
    guidance_interval_s: float = 0.2  # the live photo guidance, five times a second
    guard: GuardTimeouts = field(default_factory=GuardTimeouts)


@dataclass
class _Call:
    send: SendEvent
    camera: LatestFrameTrack | None
    screen: LatestFrameTrack | None
    indicators: Indicators
    remote: RemoteControl | None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    preview: asyncio.Task[None] | None = None
    application_id: str | None = field(default=None, repr=False)


class OperatorTools:
    def __init__(self, devices: KioskDevices, files: SessionFiles) -> None:
        self.devices = devices
        self.files = files
        self.guard = PinGuard(self._guard_changed, devices.guard)
        # One thread for the face models: each thread loads its own nets, so one is enough.
        self._photo_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo")
        self._call: _Call | None = None

    # --- the call's life ---------------------------------------------------------------

    async def attach(
        self,
        *,
        send: SendEvent,
        camera: LatestFrameTrack | None,
        screen: LatestFrameTrack | None,
        indicators: Indicators,
    ) -> None:
        """The call is connected: the tools are live for it."""
        await self.detach()
        remote = await self._open_remote()
        call = self._call = _Call(send, camera, screen, indicators, remote)
        self.files.begin()
        if self.devices.card_reader is not None:
            self._spawn(call, self._watch_card(call, self.devices.card_reader))
        self._send_privacy()

    async def detach(self) -> None:
        """The call is over: stop everything, release what the operator held, wipe files."""
        call, self._call = self._call, None
        if call is None:
            return
        for task in list(call.tasks):
            task.cancel()
        if call.tasks:
            await asyncio.wait(call.tasks, timeout=3)
        if call.remote is not None:
            with contextlib.suppress(Exception):
                await call.remote.close()
        self.guard.reset()
        self.files.end()

    async def close(self) -> None:
        await self.detach()
        self._photo_thread.shutdown(wait=False, cancel_futures=True)

    async def _open_remote(self) -> RemoteControl | None:
        if not self.devices.display:
            return None
        injector = XTestInjector(self.devices.display)
        try:
            await injector.open()
        except Exception as exc:  # no X server: the call goes on without remote control
            log.warning("remote_control_unavailable", error=type(exc).__name__)
            return None
        return RemoteControl(injector)

    def _spawn(self, call: _Call, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    # --- the operator's actions ----------------------------------------------------------

    async def handle(self, action: OperatorAction) -> str | None:
        """Carry out one action; returns a problem for the operator, or None."""
        call = self._call
        if call is None:
            return "通話中ではありません"
        if isinstance(action, (PointerInput, KeyInput, TextInput)):
            await self._remote_input(call, action)
            return None
        if isinstance(action, PinStep):
            self.guard.operator_step(action.active)
        elif isinstance(action, RemoteControlAction):
            return await self._remote_control(call, action.enabled)
        elif isinstance(action, CardCheck):
            if self.devices.card_reader is None:
                return "カードリーダーがありません"
            self.devices.card_reader.refresh()
        elif isinstance(action, PhotoPreview):
            return self._photo_preview(call, action.active)
        elif isinstance(action, PhotoCapture):
            return self._photo_capture(call)
        elif isinstance(action, FormScan):
            if not self.devices.document_camera:
                return "書類カメラがありません"
            self._spawn(call, self._form_scan(call, self.devices.document_camera))
        elif isinstance(action, FormFill):
            return await self._form_fill(call)
        elif isinstance(action, (ShowReferral, ClearScreen)):
            return "画面の操作は通話の制御で扱います"  # the controller handles these
        return None

    def tenkey_key(self, *, enter: bool) -> None:
        """A key on the tenkey (which one is never known here)."""
        call = self._call
        if call is None:
            return
        self.guard.tenkey_key(enter=enter)
        reader = self.devices.card_reader
        if enter and reader is not None:
            # The browser's software sends the PIN to the card after Enter: read the tries
            # left again once it has had time to.
            loop = asyncio.get_running_loop()
            for delay in CARD_RECHECK_AFTER_ENTER_S:
                loop.call_later(delay, reader.refresh)

    # --- PIN guard and remote control ------------------------------------------------------

    def _guard_changed(self, active: bool, reasons: frozenset[GuardReason]) -> None:
        call = self._call
        if call is None:
            return
        if call.screen is not None:
            call.screen.blanked = active
        if call.remote is not None:
            for reason, block in _BLOCK_REASONS.items():
                change = call.remote.block if reason in reasons else call.remote.unblock
                self._spawn(call, change(block))
        self._send_privacy()

    def _send_privacy(self) -> None:
        call = self._call
        if call is None:
            return
        remote = call.remote is not None and call.remote.gate.enabled
        call.send(
            PrivacyState(
                pin_guard=self.guard.active,
                reasons=tuple(sorted(reason.value for reason in self.guard.reasons)),
                remote_control=remote,
            )
        )
        call.indicators(remote, self.guard.active)

    async def _remote_control(self, call: _Call, enabled: bool) -> str | None:
        if call.remote is None:
            return "この端末では遠隔操作できません"
        if enabled:
            await call.remote.enable()
        else:
            await call.remote.disable()
        self._send_privacy()
        return None

    async def _remote_input(self, call: _Call, action: PointerInput | KeyInput | TextInput) -> None:
        if call.remote is None:
            return
        refused = await call.remote.handle(action)
        # A flood of refusals would be a flood of answers: rate-limited drops are only counted.
        if refused is not None and refused.reason != "rate_limited":
            call.send(refused)

    # --- the card ----------------------------------------------------------------------------

    async def _watch_card(self, call: _Call, reader: CardReader) -> None:
        """Every change of the reader and the card, live, while the call lasts."""
        async for state in reader.watch():
            call.send(state)

    # --- the face photo ----------------------------------------------------------------------

    async def _on_photo_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._photo_thread, work, *args)

    def _photo_preview(self, call: _Call, active: bool) -> str | None:
        if call.preview is not None:
            call.preview.cancel()
            call.preview = None
        if not active:
            return None
        if call.camera is None:
            return "カメラがありません"
        call.preview = asyncio.ensure_future(self._guide(call, call.camera))
        call.tasks.add(call.preview)
        call.preview.add_done_callback(call.tasks.discard)
        return None

    async def _guide(self, call: _Call, camera: LatestFrameTrack) -> None:
        settings, interval = self.devices.photo, self.devices.guidance_interval_s
        while True:
            image = camera.latest_image()
            if image is not None:
                try:
                    call.send(await self._on_photo_thread(guidance, image, settings))
                except Exception:  # one bad frame must not end the preview
                    log.exception("photo_guidance_failed")
            await asyncio.sleep(interval)

    def _photo_capture(self, call: _Call) -> str | None:
        image = call.camera.latest_image() if call.camera is not None else None
        if image is None:
            return "カメラの映像がありません。カメラの接続を確認してください"
        self._spawn(call, self._take_photo(call, image))
        return None

    async def _take_photo(self, call: _Call, image: np.ndarray) -> None:
        capture_id = uuid.uuid4().hex
        settings = self.devices.photo
        jpeg = b""
        try:
            jpeg, report = await self._on_photo_thread(fix, image, settings)
        except PhotoError as exc:
            # Cropping cannot help (no face, two faces, too close to an edge): say why, and
            # what else the whole frame shows.
            whole = await self._on_photo_thread(check, image, settings)
            first = PhotoProblem(code=exc.code, message_ja=exc.message_ja)
            rest = [p for p in whole.problems if p.code != exc.code]
            report = whole.model_copy(update={"ok": False, "problems": [first, *rest][:40]})
        except Exception:
            log.exception("photo_capture_failed")
            report = PhotoReport(
                ok=False,
                problems=[
                    PhotoProblem(code="check_failed", message_ja="写真を確認できませんでした")
                ],
                width=int(image.shape[1]),
                height=int(image.shape[0]),
                faces=0,
            )
        if jpeg:
            self.files.write("photo.jpg", jpeg)  # for the application site's upload, in RAM
        encoded = base64.b64encode(jpeg).decode("ascii")
        pieces = [
            encoded[i : i + PHOTO_CHUNK_CHARS] for i in range(0, len(encoded), PHOTO_CHUNK_CHARS)
        ]
        call.send(
            PhotoCaptured(
                capture_id=capture_id, report=report, jpeg_bytes=len(jpeg), chunks=len(pieces)
            )
        )
        for index, piece in enumerate(pieces):
            call.send(PhotoChunk(capture_id=capture_id, index=index, count=len(pieces), data=piece))
        log.info("photo_captured", ok=report.ok, problems=[p.code for p in report.problems])

    # --- the application form ----------------------------------------------------------------

    async def _form_scan(self, call: _Call, spec: str) -> None:
        try:
            image = await asyncio.to_thread(_grab_still, spec)
        except Exception as exc:
            log.warning("document_camera_failed", error=type(exc).__name__)
            call.send(
                FormReadResult(
                    error="camera_unavailable",
                    message_ja="書類カメラから画像を取得できません。接続を確認してください",
                )
            )
            return
        from edge.forms import form_result

        result = await asyncio.to_thread(form_result, image)
        call.application_id = result.application_id
        call.send(result)

    async def _form_fill(self, call: _Call) -> str | None:
        if call.application_id is None:
            return "先に申請書を読み取ってください"
        if call.remote is None:
            return "この端末では入力できません"
        refused = await call.remote.handle(TextInput(text=call.application_id))
        if refused is not None:
            return f"入力できませんでした（{refused.reason}）"
        return None


def _grab_still(spec: str, frames: int = 3) -> np.ndarray:
    """A still from a camera: the first frames of a real camera may be under-exposed."""
    source = open_source(spec)
    try:
        image: np.ndarray | None = None
        for _ in range(frames):
            frame = source.read()
            if frame is None:
                break
            image = frame.to_ndarray(format="bgr24")
        if image is None:
            raise OSError("the document camera gave no picture")
        return image
    finally:
        source.close()
