"""Face detection (BlazeFace short range) and the 468-point face mesh, run by OpenCV's DNN.

The pre- and post-processing follow MediaPipe's graphs:

- detection (`face_detection.pbtxt`, `face_detection_short_range.pbtxt`): the image is fitted
  into 128x128 keeping its aspect ratio (letterbox), RGB scaled to [-1, 1]; the 896 raw boxes
  are decoded against SSD anchors (4 layers, strides 8, 16, 16, 16, one aspect ratio plus one
  interpolated scale, fixed anchor size), scores go through a sigmoid, overlapping boxes are
  merged by weighted non-maximum suppression (IoU 0.3);
- landmarks (`face_landmark_cpu.pbtxt` and `face_detection_front_detection_to_roi.pbtxt`): the
  region of interest is the detection box rotated so the eyes are level, enlarged 1.5x and
  made square; it is warped to 192x192, RGB scaled to [0, 1]; the outputs are 468 (x, y, z)
  points in crop pixels and a face-presence logit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from edge.photo.models import (
    DETECTOR_INPUT,
    DETECTOR_OUTPUTS,
    LANDMARK_INPUT,
    LANDMARK_OUTPUTS,
    Nets,
    nets,
)

# SSD anchor options of MediaPipe's short-range face detector.
ANCHOR_STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3
ROI_SCALE = 1.5


@dataclass(frozen=True)
class Detection:
    """A face found by the detector, in pixels of the image it was run on."""

    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    # 6 key points (x, y): eye on the image's left, eye on the right, nose tip, mouth, two ears.
    keypoints: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Detection:
        """The same detection in another image's pixels (`p * factor + (dx, dy)`)."""
        x0, y0, x1, y1 = self.box
        return Detection(
            self.score,
            (x0 * factor + dx, y0 * factor + dy, x1 * factor + dx, y1 * factor + dy),
            self.keypoints * factor + np.array([dx, dy]),
        )


@dataclass(frozen=True)
class FaceMesh:
    """468 landmarks (x, y in image pixels; z in the same scale, smaller = nearer the camera)."""

    points: np.ndarray  # (468, 3)
    presence: float


@cache
def ssd_anchors(input_size: int = DETECTOR_INPUT) -> np.ndarray:
    """Anchor centres (896, 2), normalised to [0, 1], in the model's output order."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(ANCHOR_STRIDES):
        stride = ANCHOR_STRIDES[layer]
        # Consecutive layers with the same stride share one feature map; each layer adds two
        # anchors per cell (aspect ratio 1.0 and the interpolated scale).
        per_cell = 0
        while layer < len(ANCHOR_STRIDES) and ANCHOR_STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        cells = math.ceil(input_size / stride)
        for y in range(cells):
            for x in range(cells):
                centre = ((x + 0.5) / cells, (y + 0.5) / cells)
                centres.extend([centre] * per_cell)
    return np.array(centres, dtype=np.float32)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, min_score: float
) -> list[tuple[float, np.ndarray]]:
    """(score, 16 values: box x0 y0 x1 y1 + 6 key points) normalised to the model input."""
    anchors = ssd_anchors()
    boxes = raw_boxes.reshape(-1, 16) / DETECTOR_INPUT
    # Clipped like MediaPipe's score_clipping_thresh (also keeps exp from overflowing).
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -80.0, 80.0)))
    keep = np.flatnonzero(scores >= min_score)
    found: list[tuple[float, np.ndarray]] = []
    for i in keep:
        ax, ay = anchors[i]
        cx, cy, w, h = boxes[i, 0] + ax, boxes[i, 1] + ay, boxes[i, 2], boxes[i, 3]
        points = boxes[i, 4:].reshape(6, 2) + anchors[i]
        values = np.concatenate([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], points.ravel()])
        found.append((float(scores[i]), values))
    return found


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(
    found: list[tuple[float, np.ndarray]], iou: float = NMS_IOU
) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's WEIGHTED suppression: each cluster becomes its score-weighted mean."""
    remaining = sorted(found, key=lambda item: -item[0])
    merged: list[tuple[float, np.ndarray]] = []
    while remaining:
        top_score, top = remaining[0]
        cluster = [(s, v) for s, v in remaining if _iou(top, v) > iou]
        rest = [(s, v) for s, v in remaining if _iou(top, v) <= iou]
        weights = np.array([s for s, _ in cluster])
        values = np.stack([v for _, v in cluster])
        merged.append((top_score, (weights[:, None] * values).sum(0) / weights.sum()))
        remaining = rest
    return merged


def detect_faces(
    image_bgr: np.ndarray, min_score: float, net: Nets | None = None
) -> list[Detection]:
    """Every face in the image, best first, in the image's pixels."""
    height, width = image_bgr.shape[:2]
    side = max(width, height)
    scale = DETECTOR_INPUT / side
    # Letterbox: fit the long side, centre, pad black (MediaPipe keeps the aspect ratio too).
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_x, pad_y = (DETECTOR_INPUT - new_w) // 2, (DETECTOR_INPUT - new_h) // 2
    canvas = np.zeros((DETECTOR_INPUT, DETECTOR_INPUT, 3), np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = small
    blob = cv2.dnn.blobFromImage(
        canvas, 1.0 / 127.5, (DETECTOR_INPUT, DETECTOR_INPUT), (127.5, 127.5, 127.5), swapRB=True
    )
    detector = (net or nets()).detector
    detector.setInput(blob)
    raw_boxes, raw_scores = detector.forward(list(DETECTOR_OUTPUTS))
    detections: list[Detection] = []
    for score, values in weighted_nms(decode(raw_boxes, raw_scores, min_score)):
        # Model-input [0, 1] -> model pixels -> remove the padding -> image pixels.
        px = values * DETECTOR_INPUT
        px[0::2] = (px[0::2] - pad_x) / scale
        px[1::2] = (px[1::2] - pad_y) / scale
        detections.append(Detection(score, (px[0], px[1], px[2], px[3]), px[4:].reshape(6, 2)))
    return detections


def roi_transform(centre: np.ndarray, side: float, angle: float) -> np.ndarray:
    """The 2x3 affine map from image pixels to the 192x192 landmark crop: rotate by -angle
    about `centre` (so the eyes are level), scale the `side`-pixel square to the crop."""
    s = LANDMARK_INPUT / side
    cos, sin = math.cos(angle), math.sin(angle)
    linear = s * np.array([[cos, sin], [-sin, cos]])
    offset = LANDMARK_INPUT / 2 - linear @ centre
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def detection_roi(detection: Detection) -> np.ndarray:
    """MediaPipe's ROI from a detection: the box, eyes level, enlarged 1.5x, square."""
    left_eye, right_eye = detection.keypoints[0], detection.keypoints[1]
    angle = math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])
    x0, y0, x1, y1 = detection.box
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return roi_transform(centre, max(x1 - x0, y1 - y0) * ROI_SCALE, angle)


def mesh_roi(mesh: FaceMesh) -> np.ndarray:
    """MediaPipe's ROI from landmarks (its tracking step): outer eye corners level, the
    landmarks' bounding box enlarged 1.5x, square. A tighter, better-aligned crop."""
    points = mesh.points[:, :2]
    left, right = points[33], points[263]
    angle = math.atan2(right[1] - left[1], right[0] - left[0])
    # Bounding box in the rotated frame, so a tilted head is not over-sized.
    cos, sin = math.cos(angle), math.sin(angle)
    rotated = points @ np.array([[cos, -sin], [sin, cos]])
    low, high = rotated.min(0), rotated.max(0)
    centre = np.array([[cos, sin], [-sin, cos]]).T @ ((low + high) / 2)
    return roi_transform(centre, float(max(high - low)) * ROI_SCALE, angle)


def face_mesh(
    image_bgr: np.ndarray, detection: Detection, net: Nets | None = None, *, refine: bool = True
) -> FaceMesh:
    """The 468 landmarks of one detected face, in the image's pixels. With `refine`, the
    landmarks are run a second time on the crop their first pass defines (as MediaPipe does
    from one video frame to the next): steadier angles for the compliance check."""
    mesh = _run_mesh(image_bgr, detection_roi(detection), net)
    if refine:
        mesh = _run_mesh(image_bgr, mesh_roi(mesh), net)
    return mesh


def _run_mesh(image_bgr: np.ndarray, forward: np.ndarray, net: Nets | None) -> FaceMesh:
    crop = cv2.warpAffine(
        image_bgr,
        forward,
        (LANDMARK_INPUT, LANDMARK_INPUT),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    blob = cv2.dnn.blobFromImage(crop, 1.0 / 255.0, (LANDMARK_INPUT, LANDMARK_INPUT), swapRB=True)
    landmarks = (net or nets()).landmarks
    landmarks.setInput(blob)
    raw_points, raw_flag = landmarks.forward(list(LANDMARK_OUTPUTS))
    crop_points = raw_points.reshape(468, 3).astype(np.float64)
    back = cv2.invertAffineTransform(forward)
    xy = crop_points[:, :2] @ back[:, :2].T + back[:, 2]
    scale = float(np.hypot(forward[0, 0], forward[0, 1]))  # crop pixels per image pixel
    z = crop_points[:, 2:3] / scale
    presence = _sigmoid(float(raw_flag.ravel()[0]))
    return FaceMesh(np.hstack([xy, z]), presence)


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-100.0, min(100.0, value))))
