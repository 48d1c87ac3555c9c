"""The Raspberry Pi camera through picamera2 (libcamera), as a `FrameSource`.

picamera2 is only on Raspberry Pi OS (apt `python3-picamera2`), so it is imported when the
camera is opened; elsewhere `PiCamera` raises OSError with the reason and the agent reports
the face camera as missing instead of failing.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from av.video.frame import VideoFrame


class PiCamera:
    """`read` blocks until the sensor's next frame (RGB888 is BGR in memory, as OpenCV's)."""

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise OSError(
                "picamera2 is not installed (Raspberry Pi OS: python3-picamera2)"
            ) from exc
        self.name = f"picamera:{index}"
        self._closed = threading.Event()
        try:
            self._camera: Any = Picamera2(index)
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},
                buffer_count=2,  # a short queue: an old frame is worse than a dropped one
            )
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError) as exc:
            raise OSError(f"camera {index} could not be opened: {exc}") from exc

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            return None
        try:
            pixels = self._camera.capture_array("main")
        except RuntimeError:
            return None
        return VideoFrame.from_ndarray(np.ascontiguousarray(pixels[:, :, :3]), format="bgr24")

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._camera.stop()
            self._camera.close()
