"""Where the call's video frames come from, behind one interface (`FrameSource`).

A source's `read` blocks until its next frame (a camera's pace); `LatestFrameTrack` calls it
on a thread of its own, so the event loop never waits for a camera. Sources:

- `OpenCVCamera`: a USB/V4L2 camera through OpenCV (`camera = "opencv:0"`);
- `X11Screen`: the kiosk screen, grabbed from the X server through FFmpeg's x11grab;
- `VideoFileCamera`: a recorded video, looped — stands in for the camera in tests and the demo;
- `StillImageCamera`: a photograph as a camera (the face or document camera in tests/demo);
- `PiCamera` (edge/media/picamera.py): the Raspberry Pi camera through picamera2;
- `TestPatternCamera`: generated frames, each stamped with its capture time in a
  machine-readable bar, so the receiver can measure glass-to-glass latency.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from av.video.frame import VideoFrame

# The stamp: STAMP_BITS blocks of STAMP_BLOCK px along the top-left edge, white = 1, most
# significant bit first, carrying the capture wall-clock time in ms modulo 2**STAMP_BITS.
STAMP_BITS = 24
STAMP_BLOCK = 16
STAMP_MODULO = 1 << STAMP_BITS


class FrameSource(Protocol):
    name: str

    def read(self) -> VideoFrame | None:
        """The next frame, blocking until it is due; None when the source has ended."""

    def close(self) -> None: ...


def stamp_value(now_ms: int) -> int:
    return now_ms % STAMP_MODULO


def draw_stamp(pixels: np.ndarray, value: int) -> None:
    """Write `value` as black/white blocks into the top rows of an RGB image, in place."""
    for bit in range(STAMP_BITS):
        on = (value >> (STAMP_BITS - 1 - bit)) & 1
        x = bit * STAMP_BLOCK
        pixels[0:STAMP_BLOCK, x : x + STAMP_BLOCK] = 255 if on else 0


def read_stamp(pixels: np.ndarray) -> int:
    """The inverse of `draw_stamp` on a (possibly compressed) decoded image."""
    value = 0
    half = STAMP_BLOCK // 2
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK + half
        luma = float(pixels[half - 2 : half + 2, x - 2 : x + 2].mean())
        value = (value << 1) | (1 if luma > 127 else 0)
    return value


class _Paced:
    """Sleeps to hold a frame rate (the generated and file sources have no camera clock)."""

    def __init__(self, fps: float) -> None:
        self._period = 1.0 / fps
        self._next = time.monotonic()

    def wait(self) -> None:
        self._next += self._period
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()  # fell behind: do not burst to catch up


class TestPatternCamera:
    """Generated frames (a moving gradient) stamped with their capture time."""

    __test__ = False  # not a pytest class

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        self.name = "test-pattern"
        self._width, self._height = width, height
        self._pace = _Paced(fps)
        x = np.linspace(0, 255, width, dtype=np.float32)
        y = np.linspace(0, 255, height, dtype=np.float32)
        self._base = (x[None, :] * 0.5 + y[:, None] * 0.5).astype(np.uint8)
        self._count = 0
        self._closed = threading.Event()

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            return None
        self._pace.wait()
        self._count += 1
        shade = np.roll(self._base, self._count * 4, axis=1)
        pixels = np.stack([shade, np.full_like(shade, 90), 255 - shade], axis=-1)
        draw_stamp(pixels, stamp_value(time.time_ns() // 1_000_000))
        return VideoFrame.from_ndarray(pixels, format="rgb24")

    def close(self) -> None:
        self._closed.set()


class VideoFileCamera:
    """A recorded video played in a loop at its own frame rate."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"camera video not found: {path}")
        self.name = f"file:{path.name}"
        self._path = path
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[VideoFrame] | None = None
        self._pace: _Paced | None = None
        self._closed = threading.Event()

    def _open(self) -> None:
        self._container = av.open(str(self._path))
        stream = self._container.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        self._pace = self._pace or _Paced(float(rate))
        self._frames = self._container.decode(stream)

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            self._reset()
            return None
        for _ in range(2):
            if self._frames is None:
                self._open()
            assert self._frames is not None and self._pace is not None
            try:
                frame = next(self._frames)
            except StopIteration:
                self._reset()
                continue
            self._pace.wait()
            return frame
        return None

    def _reset(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames = None, None

    def close(self) -> None:
        self._closed.set()


class StillImageCamera:
    """A photograph shown as a camera at a few frames per second. Stands in for the face
    camera and the document camera where none is attached (tests, the demo): a real image
    through the same interface a camera uses."""

    def __init__(self, path: Path, fps: float = 5.0) -> None:
        from edge.images import ImageError, load_image

        try:
            pixels = load_image(path)
        except ImageError as exc:
            raise OSError(f"camera image {path.name}: {exc}") from exc
        self.name = f"image:{path.name}"
        self._frame = VideoFrame.from_ndarray(pixels, format="bgr24")
        self._pace = _Paced(fps)
        self._closed = threading.Event()

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            return None
        self._pace.wait()
        return self._frame

    def close(self) -> None:
        self._closed.set()


class OpenCVCamera:
    """A real camera through OpenCV (V4L2 on Debian); each `read` waits for the device."""

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720) -> None:
        import cv2  # imported here: only kiosks with a USB camera need it

        self.name = f"opencv:{index}"
        self._cv2 = cv2
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            raise OSError(f"camera {index} could not be opened")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # Keep the driver's own queue short: an old frame is worse than a dropped one.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> VideoFrame | None:
        ok, image = self._capture.read()
        if not ok:
            return None
        return VideoFrame.from_ndarray(np.asarray(image, dtype=np.uint8), format="bgr24")

    def close(self) -> None:
        self._capture.release()


class X11Screen:
    """The kiosk's screen (the X display Chromium draws the resident screen on)."""

    def __init__(self, display: str | None = None, fps: int = 10) -> None:
        self._display = display or os.environ.get("DISPLAY", "")
        if not self._display:
            raise OSError("no X display to capture (DISPLAY is not set)")
        self.name = f"x11:{self._display}"
        self._container = av.open(
            self._display,
            format="x11grab",
            options={"framerate": str(fps), "draw_mouse": "0"},
        )
        self._frames = self._container.decode(video=0)
        self._closed = threading.Event()

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            self._container.close()  # on the reading thread, which owns the container
            return None
        try:
            frame: VideoFrame = next(self._frames)
        except (StopIteration, av.error.FFmpegError):
            return None
        return frame

    def close(self) -> None:
        self._closed.set()


def open_source(spec: str) -> FrameSource:
    """`test-pattern`, `file:PATH` (a video), `image:PATH` (a photograph), `opencv:INDEX`,
    `picamera[:INDEX]` (Raspberry Pi camera) or `x11[:DISPLAY]`."""
    kind, _, arg = spec.partition(":")
    if kind == "test-pattern":
        return TestPatternCamera()
    if kind == "file":
        return VideoFileCamera(Path(arg))
    if kind == "image":
        return StillImageCamera(Path(arg))
    if kind == "picamera":
        from edge.media.picamera import PiCamera

        return PiCamera(int(arg or "0"))
    if kind == "opencv":
        return OpenCVCamera(int(arg or "0"))
    if kind == "x11":
        return X11Screen(f":{arg}" if arg and not arg.startswith(":") else (arg or None))
    raise ValueError(f"unknown video source '{spec}'")
