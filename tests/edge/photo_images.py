"""Real photographs for the face-photo tests, and images derived from them.

The two portraits have busy (astronaut) or dark (Grace Hopper) backgrounds, so the head and
shoulders are cut out with a hand-placed soft mask (fixed coordinates, measured once by eye on
the originals - not by the code under test) and laid on a plain light background; the result
is cropped to the passport format around a hand-measured crown and chin.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from bench.photo import (
    BACKGROUND_BGR,
    PAD,
    astronaut,
    astronaut_canvas,
    cut_out,
    good_astronaut,
    kiosk_frame,
    passport_crop,
)
from edge.images import load_image

__all__ = ["BACKGROUND_BGR", "astronaut", "astronaut_canvas", "good_astronaut", "kiosk_frame"]


@cache
def grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    return load_image(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


@cache
def grace_canvas() -> np.ndarray:
    return cut_out(grace_hopper(), (262, 180), (114, 160), 320, (40, 480), PAD)


@cache
def hat_grace() -> np.ndarray:
    """Grace Hopper in her uniform cap, on the light background, in the passport format."""
    return passport_crop(grace_canvas(), 24 + PAD, 333 + PAD, 266 + PAD).copy()


# ---------------------------------------------------------------------- derived failures


def blurred(image: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def darkened(image: np.ndarray, factor: float = 0.3) -> np.ndarray:
    return (image.astype(np.float32) * factor).astype(np.uint8)


def one_sided_shadow(image: np.ndarray, factor: float = 0.35) -> np.ndarray:
    """The image's left half in strong shadow, with a soft edge at the middle."""
    w = image.shape[1]
    ramp = np.clip((np.arange(w) - w * 0.45) / (w * 0.1), 0.0, 1.0)
    gain = factor + (1.0 - factor) * ramp
    return (image.astype(np.float32) * gain[None, :, None]).astype(np.uint8)


def shifted(image: np.ndarray, dx_share: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = np.float32([[1, 0, dx_share * w], [0, 1, 0]])
    return cv2.warpAffine(image, matrix, (w, h), borderValue=BACKGROUND_BGR)


def zoomed(image: np.ndarray, factor: float) -> np.ndarray:
    """Scaled about the centre, same size: < 1 face too small, > 1 face too large."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0, factor)
    return cv2.warpAffine(image, matrix, (w, h), borderValue=BACKGROUND_BGR)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h * 0.45), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderValue=BACKGROUND_BGR)


def side_by_side(image: np.ndarray) -> np.ndarray:
    return np.hstack([image, image])


def busy_background(image: np.ndarray) -> np.ndarray:
    """The light background replaced by a cat-fur texture (skimage's chelsea)."""
    from skimage import data

    h, w = image.shape[:2]
    texture = cv2.resize(cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR), (w, h))
    texture = cv2.addWeighted(texture, 0.6, np.full_like(texture, 255), 0.4, 0)  # stays light
    distance = np.abs(image.astype(np.int16) - np.array(BACKGROUND_BGR, np.int16)).sum(axis=2)
    is_background = cv2.GaussianBlur((distance < 12).astype(np.float32), (0, 0), 1.0)[..., None]
    return (texture * is_background + image * (1 - is_background)).astype(np.uint8)


def landscape() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
