"""`fix`: crop (and scale) a photo to the 35:45 format with the face at the right height, and
encode it as a JPEG inside the online application's limits."""

from __future__ import annotations

import cv2
import numpy as np

from edge.photo.compliance import PhotoError, check_bytes, find_face, locate_face
from edge.photo.models import Nets
from edge.photo.settings import PHOTO_HEIGHT_MM, PHOTO_WIDTH_MM, PhotoSettings
from protocol.v1.photo import PhotoReport

ASPECT = PHOTO_HEIGHT_MM / PHOTO_WIDTH_MM


def crop_box(
    image_shape: tuple[int, ...],
    crown_y: float,
    chin_y: float,
    centre_x: float,
    settings: PhotoSettings,
) -> tuple[float, float, float]:
    """(left, top, height) of the 35:45 crop. The target face height and crown margin first;
    when that crop would leave the image, other values inside the allowed ranges are tried
    (a slightly larger face, a smaller crown margin, a small sideways shift).
    Raises PhotoError('face_near_edge') when none fits."""
    h, w = image_shape[:2]
    face = chin_y - crown_y
    if face <= 0:
        raise PhotoError("face_near_edge")
    s = settings
    # Inside the allowed ranges, with a safety margin so the result passes `check` again.
    inner = 0.25
    face_lo = s.face_height_min + inner * (s.face_height_target - s.face_height_min)
    face_hi = s.face_height_max - inner * (s.face_height_max - s.face_height_target)
    margin_lo = s.crown_margin_min + inner * (s.crown_margin_target - s.crown_margin_min)
    margin_hi = s.crown_margin_max - inner * (s.crown_margin_max - s.crown_margin_target)
    shift_max = s.centre_tolerance * 0.6
    candidates: list[tuple[float, float, float, float]] = []  # cost, left, top, height
    for face_ratio in np.linspace(face_lo, face_hi, 9):
        height = face / face_ratio
        width = height / ASPECT
        for margin in np.linspace(margin_lo, margin_hi, 9):
            top = crown_y - margin * height
            for shift in np.linspace(-shift_max, shift_max, 7):
                left = centre_x - width / 2 - shift * width
                if left < 0 or top < 0 or left + width > w or top + height > h:
                    continue
                cost = (
                    abs(face_ratio - s.face_height_target) * 10
                    + abs(margin - s.crown_margin_target) * 10
                    + abs(shift)
                )
                candidates.append((cost, left, top, height))
    if not candidates:
        raise PhotoError("face_near_edge")
    _, left, top, height = min(candidates)
    return left, top, height


def fix(
    image_bgr: np.ndarray, settings: PhotoSettings | None = None, *, net: Nets | None = None
) -> tuple[bytes, PhotoReport]:
    """The photo cropped to 35:45 (face 34 mm of 45, crown 4 mm below the top, centred) as a
    JPEG within the upload limits, and the compliance report of that JPEG.

    Raises PhotoError when cropping cannot make it fit: no face, several faces, the face too
    near an edge, or too few pixels. Problems a crop cannot fix (blur, light, background) are
    left in the returned report (`ok` False) for the operator to decide a retake."""
    s = settings or PhotoSettings()
    detections, mesh = find_face(image_bgr, s, net)
    if mesh is None:
        raise PhotoError("multiple_faces" if len(detections) > 1 else "no_face")
    geometry = locate_face(image_bgr, mesh, s)
    left, top, height = crop_box(
        image_bgr.shape, geometry.crown_y, geometry.chin_y, geometry.centre_x, s
    )
    width = height / ASPECT
    # Output width: the crop's own resolution, enlarged up to max_upscale to reach the minimum
    # and shrunk so the height stays within the maximum side.
    out_w = round(width)
    if out_w < s.min_side_px:
        if s.min_side_px / width > s.max_upscale:
            raise PhotoError(
                "resolution_too_low",
                detail=f"the crop is {width:.0f} px wide; {s.min_side_px} px would need "
                f"more than {s.max_upscale}x enlargement",
            )
        out_w = s.min_side_px
    out_w = min(out_w, int(s.max_side_px / ASPECT))
    out_h = round(out_w * ASPECT)
    scale = out_h / height
    matrix = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    photo = cv2.warpAffine(
        image_bgr, matrix, (out_w, out_h), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )
    data = encode_jpeg(photo, s)
    # The report is on the JPEG as written (format, file size, compression included).
    return data, check_bytes(data, s, net=net)


def encode_jpeg(photo: np.ndarray, settings: PhotoSettings) -> bytes:
    """JPEG bytes within the size limits: lower quality if too big, higher if too small
    (a plain, small photo can compress below 20 KB)."""
    quality = settings.jpeg_quality
    while True:
        ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise PhotoError("not_jpeg", detail="JPEG encoding failed")
        data = encoded.tobytes()
        if len(data) > settings.max_file_bytes and quality > 40:
            quality -= 8
        elif len(data) < settings.min_file_bytes and quality < 100:
            quality = min(100, quality + 4)
        else:
            return data
