"""One JPEG of the kiosk screen, small enough for one MQTT message."""

from __future__ import annotations

import asyncio
import io

from edge.media.sources import open_source

MAX_JPEG_BYTES = 44_000  # 4/3 of this in base64 stays under the message's 60,000 characters


def _capture(spec: str, max_width: int) -> tuple[bytes, int, int]:
    source = open_source(spec)
    try:
        frame = source.read()
    finally:
        source.close()
    if frame is None:
        raise OSError("the screen source gave no frame")
    image = frame.to_image()  # type: ignore[no-untyped-call]
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    for quality in (75, 60, 45, 30, 20):
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= MAX_JPEG_BYTES:
            return buffer.getvalue(), image.width, image.height
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4))
    raise OSError("the screenshot does not fit in one message")


async def capture_jpeg(spec: str, *, max_width: int = 1024) -> tuple[bytes, int, int]:
    """Grab one frame of `spec` (see `open_source`) on a worker thread."""
    return await asyncio.to_thread(_capture, spec, max_width)
