"""The full compliance check of a face photo for the My Number Card application.

`check(image)` measures one photo against the format (45 x 35 mm, face 34 +/- 2 mm from the crown
to the chin, crown 4 +/- 2 mm below the top, centred) and the picture rules (one face, frontal,
eyes open, sharp, evenly lit, plain light background, no head covering) and reports every
failed rule with a stable code, a Japanese message for the operator, the value and the limit.

How the crown is found: landmarks stop at the top of the forehead (mesh point 10), so the crown
is looked for above it: rows of a band over the forehead are scanned upwards until they match
the background colour (the background must be plain anyway) - that row is the top of the hair.
If no such edge is found (busy background, head cut off), the crown is put `crown_factor`
times the forehead-to-chin distance above point 10 (0.45: a typical head with short hair).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.images import DEFAULT_MAX_PIXELS, ImageError, decode_image
from edge.photo.detector import Detection, FaceMesh, detect_faces, face_mesh
from edge.photo.models import Nets
from edge.photo.settings import PHOTO_HEIGHT_MM, PHOTO_WIDTH_MM, PhotoSettings
from protocol.v1.photo import FaceBox, PhotoMeasurements, PhotoProblem, PhotoReport

# Mesh indices (MediaPipe's canonical face mesh).
FOREHEAD_TOP = 10
CHIN = 152
CHEEK_LEFT, CHEEK_RIGHT = 234, 454  # the face outline at eye height (image left / right)
NOSE_BRIDGE, NOSE_BOTTOM = 168, 2
# Eye contours for the eye aspect ratio: corner, top, top, corner, bottom, bottom.
EYE_LEFT = (33, 160, 158, 133, 153, 144)
EYE_RIGHT = (362, 385, 387, 263, 373, 380)

MESSAGES_JA: dict[str, str] = {
    "no_face": "顔が見つかりません",
    "multiple_faces": "複数の顔が写っています",
    "face_too_small": "顔が小さすぎます（頭頂からあごまで 34±2 mm）",
    "face_too_large": "顔が大きすぎます（頭頂からあごまで 34±2 mm）",
    "crown_margin_small": "頭の上の余白が足りません（4±2 mm）",
    "crown_margin_large": "頭の上の余白が大きすぎます（4±2 mm）",
    "off_centre": "顔が中央にありません",
    "head_tilted": "顔が左右に傾いています",
    "face_turned": "顔が横を向いています",
    "face_up_down": "顔が上または下を向いています",
    "eyes_closed": "目が閉じているか、目がはっきり見えません",
    "blurry": "ピンぼけ・手ぶれで不鮮明です",
    "too_dark": "顔が暗すぎます",
    "too_bright": "顔が明るすぎます",
    "uneven_light": "顔に強い影があります",
    "background_dark": "背景が暗すぎます（明るい無地の背景にしてください）",
    "background_busy": "背景が無地ではありません（柄・物・影があります）",
    "head_covering": "帽子などで頭部が隠れている可能性があります",
    "aspect_ratio": "縦横比が 縦45:横35 ではありません",
    "size_out_of_range": "画像の大きさが範囲外です（各辺 480〜6000 ピクセル）",
    "not_colour": "カラー写真ではありません",
    "not_jpeg": "JPEG 形式ではありません",
    "file_too_small": "ファイルが小さすぎます（20 KB 以上）",
    "file_too_large": "ファイルが大きすぎます（7 MB 以下）",
    "face_near_edge": "顔が画像の端に近すぎるため、規格どおりに切り抜けません",
    "resolution_too_low": "画像の解像度が足りないため、規格どおりに切り抜けません",
}


class PhotoError(Exception):
    """A photo that cannot be used or fixed; `code` for programs, `message_ja` for staff."""

    def __init__(self, code: str, message_ja: str | None = None, detail: str = "") -> None:
        self.code = code
        self.message_ja = message_ja or MESSAGES_JA.get(code, code)
        super().__init__(detail or f"{code}: {self.message_ja}")


def problem(code: str, value: float | None = None, limit: str | None = None) -> PhotoProblem:
    return PhotoProblem(
        code=code,
        message_ja=MESSAGES_JA[code],
        value=None if value is None else round(float(value), 4),
        limit=limit,
    )


@dataclass(frozen=True)
class FaceGeometry:
    """Where the face is (image pixels), from the mesh plus the crown search."""

    mesh: FaceMesh
    crown_y: float
    chin_y: float
    centre_x: float
    face_width: float
    crown_found: bool  # True: the hair's edge on the background; False: the estimate

    @property
    def face_height(self) -> float:
        return self.chin_y - self.crown_y

    def box(self, width: int, height: int) -> FaceBox:
        def clip(v: float) -> float:
            return min(1.0, max(0.0, v))

        half = self.face_width / 2
        return FaceBox(
            x0=clip((self.centre_x - half) / width),
            y0=clip(self.crown_y / height),
            x1=clip((self.centre_x + half) / width),
            y1=clip(self.chin_y / height),
        )


# ---------------------------------------------------------------- measurements (pure functions)


def eye_aspect_ratio(points: np.ndarray) -> float:
    """The smaller of the two eyes' height/width ratios (open ~0.25-0.35, closed ~0.1)."""

    def one(idx: tuple[int, ...]) -> float:
        p = points[list(idx), :2]
        width = float(np.linalg.norm(p[0] - p[3]))
        if width <= 0:
            return 0.0
        return float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * width)

    return min(one(EYE_LEFT), one(EYE_RIGHT))


def head_pose(points: np.ndarray, pitch_neutral_deg: float = 0.0) -> tuple[float, float, float]:
    """(roll, yaw, pitch) in degrees from the 3-D mesh: roll from the outer eye corners' line
    in the image; yaw from that line's depth; pitch from the forehead-chin line's depth, less
    the lean it has in a level face."""
    eyes = points[263] - points[33]
    vertical = points[FOREHEAD_TOP] - points[CHIN]
    roll = math.degrees(math.atan2(eyes[1], eyes[0]))
    yaw = math.degrees(math.atan2(eyes[2], math.hypot(eyes[0], eyes[1])))
    pitch = math.degrees(math.atan2(vertical[2], math.hypot(vertical[0], vertical[1])))
    return roll, yaw, pitch - pitch_neutral_deg


def laplacian_sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a face crop, normalised for size (resized to 256 px high)
    and for contrast (scaled to a grey-level std-dev of 50), so a dark or small face is not
    mistaken for a blurred one."""
    if gray.size == 0:
        return 0.0
    scale = 256.0 / gray.shape[0]
    size = (max(1, round(gray.shape[1] * scale)), 256)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(gray, size, interpolation=interpolation).astype(np.float64)
    std = float(resized.std())
    if std < 1.0:  # a flat patch: nothing in focus
        return 0.0
    return float(cv2.Laplacian(resized * (50.0 / std), cv2.CV_64F).var())


def _lab(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def _region(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    h, w = image.shape[:2]
    ix0, ix1 = max(0, int(x0)), min(w, math.ceil(x1))
    iy0, iy1 = max(0, int(y0)), min(h, math.ceil(y1))
    if ix1 <= ix0 or iy1 <= iy0:
        return image[0:0, 0:0]
    return image[iy0:iy1, ix0:ix1]


def _median_lab(image_bgr: np.ndarray) -> np.ndarray | None:
    if image_bgr.size == 0:
        return None
    median: np.ndarray = np.median(_lab(image_bgr).reshape(-1, 3), axis=0)
    return median


def locate_face(image_bgr: np.ndarray, mesh: FaceMesh, settings: PhotoSettings) -> FaceGeometry:
    """Crown, chin, centre and width of the face (see the module docstring for the crown)."""
    points = mesh.points
    chin_y = float(points[CHIN, 1])
    top = points[FOREHEAD_TOP]
    span = max(1.0, chin_y - float(top[1]))  # forehead top to chin
    left, right = points[CHEEK_LEFT, 0], points[CHEEK_RIGHT, 0]
    face_width = float(abs(right - left))
    centre_x = float((left + right) / 2)
    estimate = float(top[1]) - settings.crown_factor * span
    crown_y, found = estimate, False
    background = _corner_colour(image_bgr)
    if background is not None:
        band_top = max(0, int(top[1] - settings.crown_search * span))
        band = _region(
            image_bgr, top[0] - 0.25 * face_width, band_top, top[0] + 0.25 * face_width, top[1]
        )
        if band.size:
            distance = np.linalg.norm(_lab(band) - background, axis=2)
            is_background = (distance < 12.0).mean(axis=1) > 0.9
            run = max(3, int(0.03 * span))
            # Upwards from the forehead: the first row that ends a run of background rows
            # (the row below it is the top of the hair).
            for row in range(len(is_background) - 1, run - 2, -1):
                if is_background[row - run + 1 : row + 1].all():
                    crown_y, found = float(band_top + row + 1), True
                    break
            else:
                if band_top == 0:  # the hair reaches the top edge: the crown is not in the photo
                    crown_y = min(estimate, 0.0)
            # The forehead itself can pass for a light background: keep a minimum height.
            crown_y = min(crown_y, float(top[1]) - 0.1 * span)
    return FaceGeometry(mesh, crown_y, chin_y, centre_x, face_width, found)


def _corner_colour(image_bgr: np.ndarray) -> np.ndarray | None:
    """The background colour from the two top corners, or None when they are not plain."""
    h, w = image_bgr.shape[:2]
    size = max(4, int(0.06 * min(h, w)))
    corners = [image_bgr[:size, :size], image_bgr[:size, w - size :]]
    labs = [_lab(c).reshape(-1, 3) for c in corners]
    if any(float(lab[:, 0].std()) > 8.0 for lab in labs):
        return None
    medians = [np.median(lab, axis=0) for lab in labs]
    if float(np.linalg.norm(medians[0] - medians[1])) > 15.0:
        return None
    mean: np.ndarray = np.mean(medians, axis=0)
    return mean


def background_mask(shape: tuple[int, ...], geometry: FaceGeometry) -> np.ndarray:
    """The background judged: above the eyes, outside a generous ellipse around the head and
    its hair (shoulders and long hair lower down are left out)."""
    h, w = shape[:2]
    mask = np.zeros((h, w), np.uint8)
    eyes = int(max(0, min(h, float(geometry.mesh.points[[33, 263], 1].mean()))))
    mask[:eyes] = 255
    centre = (round(geometry.centre_x), round((geometry.crown_y + geometry.chin_y) / 2))
    axes = (
        max(1, round(0.5 * geometry.face_width * 1.9)),
        max(1, round(0.5 * geometry.face_height * 1.15)),
    )
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 0, thickness=-1)
    return mask


def robust_spread(values: np.ndarray) -> float:
    """A standard deviation that a few stray hairs do not inflate: the 10-90 % percentile
    range / 2.563 (equal to the std-dev for normally distributed values)."""
    if values.size == 0:
        return 0.0
    p10, p90 = np.percentile(values, [10, 90])
    return float(p90 - p10) / 2.563


def _skin_halves(gray: np.ndarray, points: np.ndarray) -> tuple[float, float, float]:
    """Mean grey of the whole face, of its image-left half and of its image-right half."""
    hull = cv2.convexHull(points[:, :2].astype(np.int32))
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    # Split along the nose line (bridge to bottom), extended over the whole face.
    (bx, by), (nx, ny) = points[NOSE_BRIDGE, :2], points[NOSE_BOTTOM, :2]
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0, 0.0, 0.0
    # Sign of the cross product tells which side of the nose line a pixel is on.
    side = (nx - bx) * (ys - by) - (ny - by) * (xs - bx)
    values = gray[ys, xs].astype(np.float64)
    left, right = values[side > 0], values[side <= 0]
    if len(left) == 0 or len(right) == 0:
        return float(values.mean()), 0.0, 0.0
    return float(values.mean()), float(left.mean()), float(right.mean())


# --------------------------------------------------------------------------------- the check


def find_face(
    image_bgr: np.ndarray, settings: PhotoSettings, net: Nets | None = None
) -> tuple[list[Detection], FaceMesh | None]:
    detections = detect_faces(image_bgr, settings.detection_min_score, net)
    if len(detections) != 1:
        return detections, None
    mesh = face_mesh(image_bgr, detections[0], net)
    if mesh.presence < settings.landmark_min_presence:
        return [], None
    return detections, mesh


def check(
    image_bgr: np.ndarray, settings: PhotoSettings | None = None, *, net: Nets | None = None
) -> PhotoReport:
    """Every rule, on decoded BGR pixels (use `check_file`/`check_bytes` for an upload)."""
    settings = settings or PhotoSettings()
    height, width = image_bgr.shape[:2]
    problems = _format_problems(image_bgr, settings)
    detections, mesh = find_face(image_bgr, settings, net)
    if mesh is None:
        problems.insert(0, problem("multiple_faces" if len(detections) > 1 else "no_face"))
        return PhotoReport(
            ok=False, problems=problems, width=width, height=height, faces=len(detections)
        )
    geometry = locate_face(image_bgr, mesh, settings)
    measured, found = _measure(image_bgr, geometry, settings)
    problems = found + problems
    return PhotoReport(
        ok=not problems,
        problems=problems,
        width=width,
        height=height,
        faces=1,
        face=geometry.box(width, height),
        measurements=measured,
    )


def _format_problems(image_bgr: np.ndarray, settings: PhotoSettings) -> list[PhotoProblem]:
    height, width = image_bgr.shape[:2]
    found: list[PhotoProblem] = []
    expected_height = width * PHOTO_HEIGHT_MM / PHOTO_WIDTH_MM
    if abs(height - expected_height) > settings.aspect_tolerance_px:
        found.append(
            problem("aspect_ratio", height / width, f"{PHOTO_HEIGHT_MM / PHOTO_WIDTH_MM:.4f}")
        )
    if min(width, height) < settings.min_side_px or max(width, height) > settings.max_side_px:
        found.append(
            problem(
                "size_out_of_range",
                float(
                    min(width, height)
                    if min(width, height) < settings.min_side_px
                    else max(width, height)
                ),
                f"{settings.min_side_px}-{settings.max_side_px} px",
            )
        )
    small = cv2.resize(image_bgr, (64, 64), interpolation=cv2.INTER_AREA).astype(np.int16)
    if int(np.abs(small - small[:, :, :1]).max()) <= 2:  # every channel equal: greyscale
        found.append(problem("not_colour"))
    return found


def _range(
    out: list[PhotoProblem], value: float, low: float, high: float, low_code: str, high_code: str
) -> None:
    if value < low:
        out.append(problem(low_code, value, f">= {low:.4g}"))
    elif value > high:
        out.append(problem(high_code, value, f"<= {high:.4g}"))


def _measure(
    image_bgr: np.ndarray, geometry: FaceGeometry, settings: PhotoSettings
) -> tuple[PhotoMeasurements, list[PhotoProblem]]:
    s = settings
    height, width = image_bgr.shape[:2]
    points = geometry.mesh.points
    out: list[PhotoProblem] = []

    face_ratio = geometry.face_height / height
    margin = geometry.crown_y / height
    offset = (geometry.centre_x - width / 2) / width
    _range(
        out, face_ratio, s.face_height_min, s.face_height_max, "face_too_small", "face_too_large"
    )
    _range(
        out,
        margin,
        s.crown_margin_min,
        s.crown_margin_max,
        "crown_margin_small",
        "crown_margin_large",
    )
    if abs(offset) > s.centre_tolerance:
        out.append(problem("off_centre", offset, f"|x| <= {s.centre_tolerance:.4g}"))

    roll, yaw, pitch = head_pose(points, s.pitch_neutral_deg)
    for code, value, limit in (
        ("head_tilted", roll, s.max_roll_deg),
        ("face_turned", yaw, s.max_yaw_deg),
        ("face_up_down", pitch, s.max_pitch_deg),
    ):
        if abs(value) > limit:
            out.append(problem(code, value, f"|deg| <= {limit:g}"))

    ear = eye_aspect_ratio(points)
    if ear < s.min_eye_aspect_ratio:
        out.append(problem("eyes_closed", ear, f">= {s.min_eye_aspect_ratio:g}"))

    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    xs, ys = points[:, 0], points[:, 1]
    face_crop = _region(gray, xs.min(), ys.min(), xs.max(), ys.max())
    sharp = laplacian_sharpness(face_crop)
    if sharp < s.min_sharpness:
        out.append(problem("blurry", sharp, f">= {s.min_sharpness:g}"))

    brightness, left, right = _skin_halves(gray, points)
    balance = min(left, right) / max(left, right, 1e-6)
    _range(out, brightness, s.min_face_brightness, s.max_face_brightness, "too_dark", "too_bright")
    if balance < s.min_light_balance:
        out.append(problem("uneven_light", balance, f">= {s.min_light_balance:g}"))

    mask = background_mask(image_bgr.shape, geometry)
    bg_brightness = bg_std = None
    if np.count_nonzero(mask) >= s.min_background_share * height * width:
        values = gray[::2, ::2][mask[::2, ::2] > 0]  # a quarter of the pixels is plenty
        bg_brightness, bg_std = float(values.mean()), robust_spread(values)
        if bg_brightness < s.min_background_brightness:
            out.append(
                problem("background_dark", bg_brightness, f">= {s.min_background_brightness:g}")
            )
        if bg_std > s.max_background_std:
            out.append(problem("background_busy", bg_std, f"<= {s.max_background_std:g}"))

    delta_e = head_top_delta_e(image_bgr, geometry, mask)
    if delta_e is not None and delta_e > s.head_covering_delta_e:
        out.append(problem("head_covering", delta_e, f"<= {s.head_covering_delta_e:g}"))

    measured = PhotoMeasurements(
        face_height_ratio=round(face_ratio, 4),
        crown_margin_ratio=round(margin, 4),
        centre_offset=round(offset, 4),
        roll_deg=round(roll, 2),
        yaw_deg=round(yaw, 2),
        pitch_deg=round(pitch, 2),
        eye_aspect_ratio=round(ear, 4),
        sharpness=round(sharp, 1),
        face_brightness=round(brightness, 1),
        light_balance=round(balance, 4),
        background_brightness=None if bg_brightness is None else round(bg_brightness, 1),
        background_std=None if bg_std is None else round(bg_std, 2),
        head_top_delta_e=None if delta_e is None else round(delta_e, 2),
    )
    return measured, out


def head_top_delta_e(
    image_bgr: np.ndarray, geometry: FaceGeometry, background: np.ndarray
) -> float | None:
    """How far (CIELAB delta E) the top of the head is from the nearest of: the hair beside the
    face, the forehead skin, the background. Hair, a bald head or background match one of them;
    a hat, cap, scarf or wide band usually matches none. A covering the colour of the hair
    (a black cap on black hair) is not caught; a hair ornament may be."""
    points = geometry.mesh.points
    top_x, top_y = points[FOREHEAD_TOP, 0], points[FOREHEAD_TOP, 1]
    span = max(1.0, geometry.chin_y - top_y)
    fw = geometry.face_width
    eye_y = float(points[[33, 263], 1].mean())
    head = _median_lab(
        _region(
            image_bgr,
            top_x - 0.25 * fw,
            top_y - 0.22 * span,
            top_x + 0.25 * fw,
            top_y - 0.06 * span,
        )
    )
    if head is None:
        return None
    left_x, right_x = points[CHEEK_LEFT, 0], points[CHEEK_RIGHT, 0]
    references = [
        _median_lab(_region(image_bgr, left_x - 0.18 * fw, top_y, left_x - 0.03 * fw, eye_y)),
        _median_lab(_region(image_bgr, right_x + 0.03 * fw, top_y, right_x + 0.18 * fw, eye_y)),
        _median_lab(
            _region(
                image_bgr,
                top_x - 0.15 * fw,
                top_y + 0.05 * span,
                top_x + 0.15 * fw,
                top_y + 0.15 * span,
            )
        ),
    ]
    if np.count_nonzero(background):
        # Every 4th pixel each way: plenty for a median, 16x cheaper than the whole image.
        pixels = image_bgr[::4, ::4][background[::4, ::4] > 0]
        references.append(_median_lab(pixels.reshape(-1, 1, 3)))
    distances = [float(np.linalg.norm(head - ref)) for ref in references if ref is not None]
    return min(distances) if distances else None


# ------------------------------------------------------------------------------ file inputs


def check_bytes(
    data: bytes,
    settings: PhotoSettings | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    net: Nets | None = None,
) -> PhotoReport:
    """The check of an encoded file: the upload rules (JPEG, 20 KB-7 MB) plus `check`.
    Raises `ImageError` for something that is not an image or is too large to decode."""
    settings = settings or PhotoSettings()
    image = decode_image(data, max_pixels=max_pixels)
    report = check(image, settings, net=net)
    extra: list[PhotoProblem] = []
    if not data.startswith(b"\xff\xd8\xff"):
        extra.append(problem("not_jpeg"))
    if len(data) < settings.min_file_bytes:
        extra.append(problem("file_too_small", len(data), f">= {settings.min_file_bytes} B"))
    elif len(data) > settings.max_file_bytes:
        extra.append(problem("file_too_large", len(data), f"<= {settings.max_file_bytes} B"))
    problems = report.problems + extra
    return report.model_copy(
        update={"problems": problems, "ok": not problems, "file_bytes": len(data)}
    )


def check_file(path: Path, settings: PhotoSettings | None = None) -> PhotoReport:
    """`check_bytes` of a file; `ImageError` (code `unreadable`) when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(
            "unreadable", "ファイルを読み込めません", f"cannot read {path.name}: {exc.strerror}"
        ) from exc
    return check_bytes(data, settings)
