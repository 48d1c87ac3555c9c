"""Live-preview guidance: one short hint list per camera frame, fast enough for every frame.

The fast path: detection on the whole frame shrunk to 128 px (the detector's input), one
landmark pass on the face crop, and only cheap measurements (face size and position, pose,
face brightness). Sharpness, background and head covering wait for the captured photo's
full `check`.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.photo.compliance import CHEEK_LEFT, CHEEK_RIGHT, CHIN, FOREHEAD_TOP, head_pose
from edge.photo.detector import detect_faces, face_mesh
from edge.photo.models import Nets
from edge.photo.settings import PhotoSettings
from protocol.v1.photo import FaceBox, PhotoGuidance, PhotoHint

HINTS_JA: dict[str, str] = {
    "no_face": "顔が見つかりません",
    "multiple_faces": "複数の顔が写っています",
    "move_closer": "もう少し近づいてください",
    "move_back": "もう少し離れてください",
    "centre": "中央に寄ってください",
    "face_front": "正面を向いてください",
    "too_dark": "明るさが足りません",
    "too_bright": "明るすぎます",
}


def _hint(code: str) -> PhotoHint:
    return PhotoHint(code=code, message_ja=HINTS_JA[code])


def guidance(
    frame_bgr: np.ndarray, settings: PhotoSettings | None = None, *, net: Nets | None = None
) -> PhotoGuidance:
    """Hints for one preview frame; `ok_to_capture` when there is nothing to correct."""
    s = settings or PhotoSettings()
    height, width = frame_bgr.shape[:2]
    detections = detect_faces(frame_bgr, s.detection_min_score, net)
    if not detections:
        return PhotoGuidance(hints=[_hint("no_face")], ok_to_capture=False)
    if len(detections) > 1:
        return PhotoGuidance(hints=[_hint("multiple_faces")], ok_to_capture=False)
    mesh = face_mesh(frame_bgr, detections[0], net, refine=False)
    if mesh.presence < s.landmark_min_presence:
        return PhotoGuidance(hints=[_hint("no_face")], ok_to_capture=False)
    points = mesh.points
    top_y, chin_y = float(points[FOREHEAD_TOP, 1]), float(points[CHIN, 1])
    # The crown from the landmarks alone (no background search on the fast path).
    crown_y = top_y - s.crown_factor * (chin_y - top_y)
    left, right = float(points[CHEEK_LEFT, 0]), float(points[CHEEK_RIGHT, 0])
    centre_x = (left + right) / 2
    face_share = (chin_y - crown_y) / height

    hints: list[PhotoHint] = []
    if face_share < s.guidance_min_face:
        hints.append(_hint("move_closer"))
    elif face_share > s.guidance_max_face:
        hints.append(_hint("move_back"))
    # Off-centre sideways, or too near the top/bottom for the 35:45 crop to fit around it.
    photo_h = (chin_y - crown_y) / s.face_height_target
    crop_top = crown_y - s.crown_margin_target * photo_h
    if (
        abs(centre_x / width - 0.5) > s.guidance_centre_tolerance
        or crop_top < 0
        or crop_top + photo_h > height
    ):
        hints.append(_hint("centre"))
    roll, yaw, pitch = head_pose(points, s.pitch_neutral_deg)
    if abs(roll) > s.max_roll_deg or abs(yaw) > s.max_yaw_deg or abs(pitch) > s.max_pitch_deg:
        hints.append(_hint("face_front"))
    brightness = _face_brightness(frame_bgr, points)
    if brightness < s.min_face_brightness:
        hints.append(_hint("too_dark"))
    elif brightness > s.max_face_brightness:
        hints.append(_hint("too_bright"))

    def clip(v: float) -> float:
        return min(1.0, max(0.0, v))

    box = FaceBox(
        x0=clip(left / width),
        y0=clip(crown_y / height),
        x1=clip(right / width),
        y1=clip(chin_y / height),
    )
    return PhotoGuidance(hints=hints, face=box, ok_to_capture=not hints)


def _face_brightness(frame_bgr: np.ndarray, points: np.ndarray) -> float:
    """Mean grey level of the inner face (eyes to mouth), on a cheap rectangle."""
    xs = points[[CHEEK_LEFT, CHEEK_RIGHT], 0]
    ys = points[[FOREHEAD_TOP, CHIN], 1]
    x0, x1 = int(max(0, xs.min())), int(min(frame_bgr.shape[1], xs.max()))
    y0, y1 = int(max(0, ys.min())), int(min(frame_bgr.shape[0], ys.max()))
    # The middle half of the box: skin, little hair or background.
    cx0, cx1 = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
    cy0, cy1 = y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4
    patch = frame_bgr[cy0:cy1, cx0:cx1]
    if patch.size == 0:
        return 0.0
    return float(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).mean())
