"""The resident's path through the kiosk and the call behind it.

welcome → consent (terms of use and privacy policy, versions from the cloud's config) →
ready (one call button) → waiting (place in the queue, expected wait) → connecting →
in call (the operator's display name) → ended; the operator may show a referral screen.
The controller owns the call's state; the resident screen only shows `View` and sends
the resident's touches. Nothing the resident types or shows passes through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from edge.media.peer import KioskPeer
from edge.media.quality import QualityGovernor

if TYPE_CHECKING:
    from edge.call.operator_tools import OperatorTools
from edge.session import ResidentSession
from protocol.v1 import CallMessage, CallQuality, IceServer
from protocol.v1.datachannel import ClearScreen, OperatorAction, ShowReferral
from protocol.v1.messages import Language

log = structlog.get_logger("edge.call")

LANGUAGES: tuple[Language, ...] = ("ja", "en", "zh", "ko", "vi")


class Screen(StrEnum):
    WELCOME = "welcome"
    CONSENT = "consent"
    READY = "ready"
    WAITING = "waiting"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    REFERRAL = "referral"
    ENDED = "ended"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class View:
    """What the resident screen shows; sent to it whole on every change."""

    screen: Screen = Screen.WELCOME
    language: Language = "ja"
    terms_version: str = ""
    privacy_version: str = ""
    queue_position: int | None = None
    estimated_wait_s: int | None = None
    support_coming: bool = False
    operator_name: str | None = None
    referral_counter: str | None = None
    end_reason: str | None = None
    operator_control: bool = False  # the operator drives the kiosk's pointer and keys
    pin_protected: bool = False  # a PIN may be typed: the operator sees no screen

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class PeerFactory(Protocol):
    def __call__(
        self,
        *,
        ice_servers: tuple[IceServer, ...],
        on_action: Callable[[OperatorAction], Awaitable[str | None]],
        on_failed: Callable[[], None],
    ) -> KioskPeer: ...


SendCall = Callable[..., bool]


@dataclass
class Timeouts:
    connecting_s: float = 30.0  # assigned but no answer: give up
    ended_screen_s: float = 20.0  # then back to welcome
    idle_s: float = 120.0  # a screen left untouched returns to welcome
    quality_s: float = 2.0  # call statistics sampled this often


@dataclass
class _Call:
    call_id: uuid.UUID
    peer: KioskPeer | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class CallController:
    def __init__(
        self,
        *,
        send: SendCall,
        consent_versions: Callable[[], tuple[str, str]],
        make_peer: PeerFactory,
        session: ResidentSession,
        tools: OperatorTools | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._send = send
        self.tools = tools
        self._consent_versions = consent_versions
        self._make_peer = make_peer
        self._session = session
        self._timeouts = timeouts or Timeouts()
        self._call: _Call | None = None
        self._view = View()
        self._watchers: set[asyncio.Queue[View]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._ended_calls: set[uuid.UUID] = set()
        self.quality: CallQuality | None = None  # the call in progress, for telemetry

    # --- the view ----------------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self._view

    @property
    def call_id(self) -> uuid.UUID | None:
        return self._call.call_id if self._call else None

    @property
    def peer(self) -> KioskPeer | None:
        return self._call.peer if self._call else None

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Queue[View]]:
        queue: asyncio.Queue[View] = asyncio.Queue(maxsize=16)
        self._watchers.add(queue)
        try:
            yield queue
        finally:
            self._watchers.discard(queue)

    def _show(self, **changes: Any) -> None:
        self._view = replace(self._view, **changes)
        for queue in self._watchers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # a slow screen gets the newest view, not a backlog
            queue.put_nowait(self._view)
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        screen = self._view.screen
        if screen in (Screen.ENDED, Screen.UNAVAILABLE):
            self._timer = loop.call_later(self._timeouts.ended_screen_s, self._back_to_welcome)
        elif screen in (Screen.CONSENT, Screen.READY, Screen.REFERRAL) and self._call is None:
            self._timer = loop.call_later(self._timeouts.idle_s, self._back_to_welcome)
        elif screen == Screen.CONNECTING:
            self._timer = loop.call_later(
                self._timeouts.connecting_s, lambda: self._spawn(self._give_up_connecting())
            )

    def _back_to_welcome(self) -> None:
        self._show(screen=Screen.WELCOME, **_CLEARED, language="ja")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        if self._call is not None:
            self._call.tasks.add(task)
            task.add_done_callback(self._call.tasks.discard)

    # --- the resident's touches --------------------------------------------------------------

    async def resident(self, action: str, **args: Any) -> None:
        async with self._lock:
            await self._resident(action, args)

    async def _resident(self, action: str, args: dict[str, Any]) -> None:
        screen = self._view.screen
        if action == "language" and args.get("language") in LANGUAGES:
            self._show(language=args["language"])
        elif action == "start" and screen == Screen.WELCOME:
            terms, privacy = self._consent_versions()
            self._show(screen=Screen.CONSENT, terms_version=terms, privacy_version=privacy)
        elif action == "consent" and screen == Screen.CONSENT:
            self._show(screen=Screen.READY if args.get("accepted") is True else Screen.WELCOME)
        elif action == "call" and screen == Screen.READY:
            await self._request()
        elif action == "cancel" and screen == Screen.WAITING and self._call is not None:
            self._send("cancel", self._call.call_id)
            await self._finish("abandoned", show=Screen.WELCOME)
        elif action == "hangup" and self._call is not None and screen in _IN_CALL_SCREENS:
            self._send("hangup", self._call.call_id)
            await self._finish("resident_hung_up")
        elif action == "done" and screen in (Screen.ENDED, Screen.UNAVAILABLE):
            self._back_to_welcome()
        else:
            log.info("resident_action_ignored", action=action[:32], screen=screen.value)

    async def _request(self) -> None:
        call = _Call(uuid.uuid4())
        view = self._view
        sent = self._send(
            "request",
            call.call_id,
            language=view.language,
            terms_version=view.terms_version,
            privacy_version=view.privacy_version,
        )
        if not sent:
            log.warning("call_request_not_sent", reason="control plane unreachable")
            self._show(screen=Screen.UNAVAILABLE)
            return
        # The consent is recorded with the request: versions and time, nothing personal.
        log.info(
            "call_requested",
            call_id=str(call.call_id),
            terms_version=view.terms_version,
            privacy_version=view.privacy_version,
            consented_at=datetime.now(UTC).isoformat(),
        )
        self._call = call
        self._show(screen=Screen.WAITING, queue_position=None, estimated_wait_s=None)

    # --- the cloud's messages ----------------------------------------------------------------

    async def on_cloud(self, message: CallMessage) -> None:
        async with self._lock:
            await self._on_cloud(message)

    async def _on_cloud(self, message: CallMessage) -> None:
        call = self._call
        if call is None or message.call_id != call.call_id:
            if message.call_id not in self._ended_calls:
                log.info("call_message_for_other_call", action=message.action)
            return
        action = message.action
        if action == "queued":
            self._show(
                queue_position=message.queue_position, estimated_wait_s=message.estimated_wait_s
            )
        elif action == "support_coming":
            self._show(support_coming=True)
        elif action == "assigned" and call.peer is None:
            await self._connect(call, message)
        elif action == "answer" and call.peer is not None and message.sdp:
            await call.peer.accept_answer(message.sdp)
            self._show(screen=Screen.IN_CALL)
            self._spawn(self._watch_quality(call.peer))
            if self.tools is not None:
                peer = call.peer
                await self.tools.attach(
                    send=peer.send_event,
                    camera=peer.camera,
                    screen=peer.screen,
                    indicators=self._indicators,
                )
        elif action == "ended":
            await self._finish(message.reason or "completed")

    async def _connect(self, call: _Call, message: CallMessage) -> None:
        self._session.begin()
        self._show(screen=Screen.CONNECTING, operator_name=message.operator_display_name)
        try:
            call.peer = self._make_peer(
                ice_servers=message.ice_servers,
                on_action=self._operator_action,
                on_failed=lambda: self._spawn(self._media_failed(call.call_id)),
            )
            offer = await call.peer.create_offer()
        except Exception:
            log.exception("call_media_failed")
            self._send("hangup", call.call_id)
            await self._finish("media_failed")
            return
        if not self._send("offer", call.call_id, sdp=offer):
            await self._finish("network")

    async def _watch_quality(self, peer: KioskPeer) -> None:
        """Sample the call's statistics; on a weak link lower the video, never the audio."""
        governor = QualityGovernor()
        while True:
            await asyncio.sleep(self._timeouts.quality_s)
            try:
                stats = await peer.stats()
            except Exception:  # the call is closing
                return
            self.quality = governor.observe(stats, time.monotonic())
            limit = governor.limit
            for track in (peer.camera, peer.screen):
                if track is not None:
                    track.max_fps, track.scale = limit.max_fps, limit.scale

    async def _give_up_connecting(self) -> None:
        async with self._lock:
            if self._call is not None and self._view.screen == Screen.CONNECTING:
                log.warning("call_connect_timeout", call_id=str(self._call.call_id))
                self._send("hangup", self._call.call_id)
                await self._finish("connect_timeout")

    async def _media_failed(self, call_id: uuid.UUID) -> None:
        async with self._lock:
            if self._call is not None and self._call.call_id == call_id:
                self._send("hangup", call_id)
                await self._finish("media_failed")

    async def _operator_action(self, action: OperatorAction) -> str | None:
        """Operator actions from the data channel; returns a problem, or None when done."""
        if self._view.screen not in (Screen.IN_CALL, Screen.REFERRAL):
            return "no call on screen"
        if isinstance(action, ShowReferral):
            self._show(screen=Screen.REFERRAL, referral_counter=action.counter)
        elif isinstance(action, ClearScreen):
            self._show(screen=Screen.IN_CALL, referral_counter=None)
        elif self.tools is not None:
            return await self.tools.handle(action)
        else:
            return "this kiosk has no operator tools"
        return None

    def _indicators(self, operator_control: bool, pin_protected: bool) -> None:
        if self._call is not None:
            self._show(operator_control=operator_control, pin_protected=pin_protected)

    async def _finish(self, reason: str, *, show: Screen = Screen.ENDED) -> None:
        call, self._call = self._call, None
        if call is not None:
            self._ended_calls.add(call.call_id)
            for task in list(call.tasks):
                if task is not asyncio.current_task():
                    task.cancel()
            if self.tools is not None:
                with contextlib.suppress(Exception):
                    await self.tools.detach()
            if call.peer is not None:
                with contextlib.suppress(Exception):
                    await call.peer.close()
            log.info("call_finished", call_id=str(call.call_id), reason=reason)
        self._session.end()
        self.quality = None
        referral = self._view.referral_counter if self._view.screen == Screen.REFERRAL else None
        self._show(screen=show, **{**_CLEARED, "end_reason": reason, "referral_counter": referral})

    async def media_lost(self) -> None:
        """The call's media is gone (the network dropped; a training scenario's cut): the call
        ends as when the peer connection fails."""
        call = self._call
        if call is not None and call.peer is not None:
            await self._media_failed(call.call_id)

    async def link_lost(self) -> None:
        """The control plane is unreachable: a call still waiting cannot be served."""
        async with self._lock:
            if self._call is not None and self._view.screen == Screen.WAITING:
                await self._finish("network", show=Screen.UNAVAILABLE)

    async def close(self) -> None:
        async with self._lock:
            if self._call is not None:
                self._send("hangup", self._call.call_id)
                await self._finish("kiosk_stopping")
        if self._timer is not None:
            self._timer.cancel()


_IN_CALL_SCREENS = (Screen.CONNECTING, Screen.IN_CALL, Screen.REFERRAL)
_CLEARED: dict[str, Any] = {
    "queue_position": None,
    "estimated_wait_s": None,
    "support_coming": False,
    "operator_name": None,
    "referral_counter": None,
    "end_reason": None,
    "operator_control": False,
    "pin_protected": False,
}
