"""The kiosk's WebRTC peer for one call.

Sends the face camera, the kiosk screen (second video track) and the headset microphone;
receives the operator's video and audio; opens the data channel for operator actions.
aiortc gathers all ICE candidates before `setLocalDescription` returns, so the offer is
complete (no trickle ICE). aiortc uses only the first STUN and the first TURN server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import MediaStreamTrack
from pydantic import BaseModel, ValidationError

from edge.media.tracks import LatestFrameTrack
from protocol.v1 import IceServer
from protocol.v1.datachannel import (
    DATA_CHANNEL_LABEL,
    MAX_DATA_MESSAGE_BYTES,
    OPERATOR_ACTION,
    ActionResult,
    OperatorAction,
)

log = structlog.get_logger("edge.media")

REMOTE_INPUT_TYPES = frozenset({"pointer", "key", "text"})
MAX_PENDING_EVENTS = 32

# RTP clock rates: VP8/H.264 video, Opus audio (what a browser and aiortc agree on first).
CLOCK_RATES = {"video": 90_000, "audio": 48_000}


@dataclass(frozen=True, slots=True)
class PeerStats:
    """Cumulative counters from aiortc's statistics at one moment."""

    rtt_ms: float | None
    jitter_ms: float | None
    packets_lost: int
    packets_sent: int
    camera_frames_sent: int


class KioskPeer:
    def __init__(
        self,
        *,
        ice_servers: tuple[IceServer, ...],
        camera: LatestFrameTrack,
        screen: LatestFrameTrack | None,
        microphone: MediaStreamTrack,
        on_action: Callable[[OperatorAction], Awaitable[str | None]],
        on_failed: Callable[[], None],
    ) -> None:
        # An explicit (possibly empty) list: aiortc's default would contact a public STUN server.
        configuration = RTCConfiguration(
            iceServers=[
                RTCIceServer(
                    urls=list(server.urls),
                    username=server.username,
                    credential=server.credential,
                )
                for server in ice_servers
            ],
            # One transport for every track: with "balanced", aiortc gives each video track
            # its own transport and a browser answering with BUNDLE never starts the second.
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
        self.pc = RTCPeerConnection(configuration)
        self.camera, self.screen, self.microphone = camera, screen, microphone
        self._on_action = on_action
        self._on_failed = on_failed
        self._sink = MediaBlackhole()  # received tracks must be consumed or frames pile up
        self.received: list[str] = []
        self._tasks: set[asyncio.Future[None]] = set()
        # The operator's actions are carried out one at a time, in the order sent (a key
        # going down before it comes up); the reader never blocks the SCTP transport.
        self._actions: asyncio.Queue[OperatorAction] = asyncio.Queue(maxsize=256)
        self._worker: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.addTrack(microphone)
        self.pc.addTrack(camera)
        if screen is not None:
            self.pc.addTrack(screen)
        # After the tracks, so that the data channel rides the same (first) transport.
        self.channel: RTCDataChannel = self.pc.createDataChannel(DATA_CHANNEL_LABEL)
        self.channel.on("message", self._on_message)
        # Events from before the channel opens (the card's state, the privacy state at the
        # start of the call) wait for it, a bounded few.
        self._pending: list[str] = []
        self.channel.on("open", self._flush)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.received.append(track.kind)
        self._sink.addTrack(track)
        # start() begins consuming every track added since the last call.
        task = asyncio.ensure_future(self._sink.start())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        log.info("peer_state", state=state)
        if state == "failed":
            self._on_failed()

    def _on_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes) or len(data) > MAX_DATA_MESSAGE_BYTES:
            self._reply(ActionResult(action="unknown", ok=False, detail="not a JSON text message"))
            return
        try:
            action = OPERATOR_ACTION.validate_json(data)
        except ValidationError:
            # The error would quote the message, which may hold typed text: say nothing of it.
            self._reply(ActionResult(action="unknown", ok=False, detail="not a known action"))
            log.warning("data_channel_message_refused")
            return
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
        try:
            self._actions.put_nowait(action)
        except asyncio.QueueFull:
            self._reply(ActionResult(action=action.type, ok=False, detail="too many actions"))

    async def _work(self) -> None:
        while True:
            action = await self._actions.get()
            try:
                problem = await self._on_action(action)
            except Exception:
                log.exception("operator_action_failed", action=action.type)
                problem = "the kiosk could not carry out the action"
            # Remote input answers only when refused (the tools send that), never per event.
            if action.type not in REMOTE_INPUT_TYPES:
                self._reply(ActionResult(action=action.type, ok=problem is None, detail=problem))

    def _reply(self, result: ActionResult) -> None:
        self.send_event(result)

    def send_event(self, event: BaseModel) -> None:
        """A message to the operator's console (protocol/v1/datachannel.py `KioskEvent`)."""
        text = event.model_dump_json()
        if self.channel.readyState == "open":
            self.channel.send(text)
        elif self.channel.readyState == "connecting" and len(self._pending) < MAX_PENDING_EVENTS:
            self._pending.append(text)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for text in pending:
            self.channel.send(text)

    async def create_offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def stats(self) -> PeerStats:
        """RTT, jitter and losses as the operator's browser reports them (RTCP receiver
        reports, `remote-inbound-rtp`), and what this side sent."""
        report = await self.pc.getStats()
        rtt: list[float] = []
        jitter: list[float] = []
        lost = sent = 0
        for stat in report.values():
            kind = getattr(stat, "type", "")
            if kind == "remote-inbound-rtp":
                if getattr(stat, "roundTripTime", None) is not None:
                    rtt.append(stat.roundTripTime * 1000)
                if getattr(stat, "jitter", None) is not None:
                    # aiortc reports the RTCP jitter in RTP timestamp units, not seconds.
                    rate = CLOCK_RATES.get(getattr(stat, "kind", ""), 90_000)
                    jitter.append(stat.jitter / rate * 1000)
                lost += max(0, int(getattr(stat, "packetsLost", 0) or 0))
            elif kind == "outbound-rtp":
                sent += int(getattr(stat, "packetsSent", 0) or 0)
        return PeerStats(
            rtt_ms=max(rtt) if rtt else None,
            jitter_ms=max(jitter) if jitter else None,
            packets_lost=lost,
            packets_sent=sent,
            camera_frames_sent=self.camera.frames_sent,
        )

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for track in (self.camera, self.screen, self.microphone):
            if track is not None:
                track.stop()
        await self._sink.stop()
        await self.pc.close()
