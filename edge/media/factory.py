"""Builds the kiosk's peer for a call from the settings' source names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack

from edge.media.peer import KioskPeer
from edge.media.sources import open_source
from edge.media.tracks import LatestFrameTrack, ToneTrack
from edge.settings import EdgeSettings
from protocol.v1 import IceServer
from protocol.v1.datachannel import OperatorAction

log = structlog.get_logger("edge.media")


def microphone(spec: str) -> MediaStreamTrack:
    kind, _, device = spec.partition(":")
    if kind == "tone":
        return ToneTrack()
    if kind in ("alsa", "pulse"):
        track = MediaPlayer(device or "default", format=kind).audio
        if track is None:
            raise OSError(f"no audio from {spec}")
        return track
    raise ValueError(f"unknown microphone '{spec}'")


class PeerFactory:
    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings

    def __call__(
        self,
        *,
        ice_servers: tuple[IceServer, ...],
        on_action: Callable[[OperatorAction], Awaitable[str | None]],
        on_failed: Callable[[], None],
    ) -> KioskPeer:
        camera = LatestFrameTrack(open_source(self._settings.camera))
        screen: LatestFrameTrack | None = None
        if self._settings.screen_capture:
            try:
                screen = LatestFrameTrack(open_source(self._settings.screen_capture))
            except OSError as exc:
                # The call goes on without the screen; the operator sees only the camera.
                log.warning("screen_capture_unavailable", error=str(exc))
        return KioskPeer(
            ice_servers=ice_servers,
            camera=camera,
            screen=screen,
            microphone=microphone(self._settings.microphone),
            on_action=on_action,
            on_failed=on_failed,
        )
