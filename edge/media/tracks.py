"""WebRTC tracks fed by the sources without ever queueing frames.

A naive pipeline reads the camera inside `recv()` (blocking the event loop) or lets frames
pile up behind a slow encoder; both add latency. Here a thread reads the source at its own
pace and keeps only the newest frame; `recv()` hands the encoder whatever is newest.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import threading
import time

import numpy as np
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from edge.media.sources import FrameSource

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)


class LatestFrameTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, source: FrameSource) -> None:
        super().__init__()
        self.source = source
        self._latest: VideoFrame | None = None
        self._fresh = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = 0.0
        self.frames_read = 0
        self.frames_sent = 0
        # Lowered on a weak link (edge/media/quality.py): fewer and smaller frames.
        self.max_fps = 30.0
        self.scale = 1.0
        self._last_sent_at = 0.0
        # The PIN guard (edge/privacy) blanks the screen track while a PIN may be typed:
        # black frames of the same size go out instead, so the operator sees nothing of it.
        self.blanked = False
        self._black: VideoFrame | None = None

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._read_forever, name=f"source-{self.source.name}", daemon=True
        )
        self._thread.start()

    def _read_forever(self) -> None:
        assert self._loop is not None
        while not self._stopping.is_set():
            try:
                frame = self.source.read()
            except Exception:  # a camera unplugged mid-call ends the track, not the agent
                frame = None
            if self._loop.is_closed():
                return
            self._loop.call_soon_threadsafe(self._offer, frame)
            if frame is None:
                return

    def _offer(self, frame: VideoFrame | None) -> None:
        if frame is None:
            self.stop()
        else:
            self.frames_read += 1
            self._latest = frame  # an older, unsent frame is simply replaced
        self._fresh.set()

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._thread is None:
            self._start()
        while True:
            await self._fresh.wait()
            self._fresh.clear()
            frame = self._latest
            if frame is None or self.readyState != "live":
                raise MediaStreamError
            # Skip frames that come sooner than the frame-rate limit allows.
            if time.monotonic() - self._last_sent_at >= 1.0 / self.max_fps * 0.9:
                break
        self._last_sent_at = time.monotonic()
        if self.blanked:
            frame = self._black_like(frame)
        if self.scale < 1.0:
            width = max(2, int(frame.width * self.scale) // 2 * 2)
            height = max(2, int(frame.height * self.scale) // 2 * 2)
            frame = frame.reformat(width=width, height=height)
        frame.pts = int((time.monotonic() - self._started) / VIDEO_TIME_BASE)
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame

    def latest_image(self) -> np.ndarray | None:
        """The newest frame as BGR pixels (a photo or a form scan), whatever is being sent."""
        frame = self._latest
        return None if frame is None else frame.to_ndarray(format="bgr24")

    def _black_like(self, frame: VideoFrame) -> VideoFrame:
        black = self._black
        if black is None or (black.width, black.height) != (frame.width, frame.height):
            pixels = np.zeros((frame.height, frame.width, 3), np.uint8)
            black = self._black = VideoFrame.from_ndarray(pixels, format="rgb24")
        return black

    def stop(self) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            self.source.close()
        self._fresh.set()
        super().stop()


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone standing in for the headset microphone where none is plugged in
    (tests, demo): audible, so an operator hears that audio flows."""

    def __init__(self, frequency: float = 440.0, sample_rate: int = 48_000) -> None:
        super().__init__()
        self._frequency = frequency
        self._rate = sample_rate
        self._samples = int(sample_rate * 0.02)
        self._phase = 0

    async def recv(self) -> AudioFrame:
        # The parent paces 20 ms frames against the wall clock.
        frame = await super().recv()
        t = (np.arange(self._samples) + self._phase) / self._rate
        self._phase += self._samples
        wave = (0.2 * 32767 * np.sin(2 * math.pi * self._frequency * t)).astype(np.int16)
        tone = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        tone.sample_rate = self._rate
        tone.pts, tone.time_base = frame.pts, frame.time_base
        return tone
