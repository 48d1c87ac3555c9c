"""Loading an image from a file or bytes, safely, for the photo and form checks.

One guard for every image the kiosk looks at: it must be an image OpenCV can decode, and not
larger than `max_pixels` (a 100-megapixel file is refused from its header, before it is
decoded, so it cannot exhaust the kiosk's memory). Errors say what was wrong in Japanese and
English and never echo the file's content.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

# 40 MP: a 7 MB upload limit and any document camera fit well below this.
DEFAULT_MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    """The input is not a usable image. `code` is stable for programs, `message_ja` for staff."""

    def __init__(self, code: str, message_ja: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message_ja = message_ja


def _check_header(data: bytes, max_pixels: int) -> None:
    try:
        # We apply our own, lower limit below; Pillow's warning would only add noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(
            "not_an_image", "画像として読み込めません", "the input is not a readable image"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(
            "too_large", "画像が大きすぎます", f"the image exceeds {max_pixels} pixels"
        ) from exc
    if width * height > max_pixels:
        raise ImageError(
            "too_large",
            "画像が大きすぎます",
            f"the image has {width}x{height} = {width * height} pixels, "
            f"more than the limit of {max_pixels}",
        )


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """BGR pixels (OpenCV's order) of an encoded image, or `ImageError`."""
    if not data:
        raise ImageError("empty", "画像が空です", "the image is empty")
    _check_header(data, max_pixels)
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ImageError(
            "not_an_image", "画像として読み込めません", "the input is not a readable image"
        )
    return pixels


def load_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """BGR pixels of an image file, or `ImageError` (also for a missing file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(
            "unreadable", "ファイルを読み込めません", f"cannot read {path.name}: {exc.strerror}"
        ) from exc
    return decode_image(data, max_pixels=max_pixels)
