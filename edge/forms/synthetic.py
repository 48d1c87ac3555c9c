"""Synthetic application forms photographed badly, for the tests, the benchmark and the demo.

No real form may be used (each carries a resident's application ID), so we draw an A4 sheet
that looks like one to a decoder — text lines, boxes, a photo frame, the 2D code in its place
at the top right — and then "photograph" it the way a stand scanner sees a sheet a resident put
down: tilted, unevenly lit, partly shadowed, slightly blurred, noisy, JPEG-compressed.

The code itself comes in as a module matrix (True = dark), so this module needs no QR
generator at run time; tests and the benchmark make the matrix with segno.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

A4_MM = (210.0, 297.0)


@dataclass(frozen=True)
class Degradation:
    """How the sheet is photographed. Defaults are a hard but realistic case."""

    tilt_deg: float = 30.0  # the sheet leans away from the camera (rotation about its x axis)
    yaw_deg: float = 10.0  # … and turns sideways (rotation about its y axis)
    roll_deg: float = 8.0  # … and lies askew on the table (in-plane rotation)
    gradient: float = 0.6  # the light falls off by this fraction across the frame
    shadow: float = 0.55  # darkening inside the shadow (0 = no shadow)
    shadow_over_code: bool = True  # the shadow's edge crosses the code
    blur_sigma: float = 1.0
    noise_sigma: float = 6.0
    jpeg_quality: int | None = 80
    frame: tuple[int, int] = (2592, 1944)  # the camera's width, height (5 MP)

    @classmethod
    def random(cls, rng: np.random.Generator) -> Degradation:
        """A random case in the range the kiosk must handle (tilt 0–35°, strong shading)."""
        return cls(
            tilt_deg=float(rng.uniform(0, 35)),
            yaw_deg=float(rng.uniform(-15, 15)),
            # Roughly upright, sometimes turned round or sideways.
            roll_deg=float(rng.uniform(-20, 20) + rng.choice([0, 0, 90, 180])),
            gradient=float(rng.uniform(0.2, 0.7)),
            shadow=float(rng.choice([0.0, rng.uniform(0.3, 0.6)])),
            shadow_over_code=bool(rng.integers(0, 2)),
            blur_sigma=float(rng.uniform(0.3, 1.4)),
            noise_sigma=float(rng.uniform(2, 9)),
            jpeg_quality=int(rng.integers(60, 95)),
        )


def modules_with_border(modules: np.ndarray, border: int = 4) -> np.ndarray:
    """The matrix with its white quiet zone."""
    return np.pad(modules.astype(bool), border, constant_values=False)


def render_form(
    modules: np.ndarray | None,
    *,
    dpi: float = 200.0,
    code_mm: float = 24.0,
    seed: int = 0,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A white A4 sheet (BGR) with the code (quiet zone included) at the top right, and the
    code's box (x, y, w, h) in sheet pixels. `modules=None` draws a sheet without a code."""
    rng = np.random.default_rng(seed)
    px_per_mm = dpi / 25.4
    width, height = (round(side * px_per_mm) for side in A4_MM)
    sheet = np.full((height, width, 3), 250, np.uint8)

    def mm(value: float) -> int:
        return round(value * px_per_mm)

    ink = (40, 40, 40)
    # Title band and a few "text" lines: dark bars of random length, like printed words.
    cv2.rectangle(sheet, (mm(15), mm(12)), (mm(130), mm(22)), ink, -1)
    for row in range(6):
        y = mm(30 + row * 6)
        x = mm(15)
        while x < mm(130):
            word = mm(float(rng.uniform(4, 14)))
            cv2.rectangle(sheet, (x, y), (min(x + word, mm(130)), y + mm(2.2)), ink, -1)
            x += word + mm(2)
    # Entry boxes (name, address, birth date…) and the photo frame.
    for row in range(8):
        top = mm(80 + row * 18)
        cv2.rectangle(sheet, (mm(15), top), (mm(195), top + mm(14)), ink, 2)
        cv2.line(sheet, (mm(50), top), (mm(50), top + mm(14)), ink, 2)
        cv2.rectangle(sheet, (mm(18), top + mm(5)), (mm(45), top + mm(8)), ink, -1)
    cv2.rectangle(sheet, (mm(150), mm(230)), (mm(185), mm(275)), ink, 2)
    # The printed ID under the code: a row of digit-sized marks.
    for digit in range(23):
        x = mm(150) + digit * mm(2)
        cv2.rectangle(sheet, (x, mm(52)), (x + mm(1.4), mm(55)), ink, -1)

    box = (mm(195) - mm(code_mm), mm(20), mm(code_mm), mm(code_mm))
    if modules is not None:
        matrix = modules_with_border(modules)
        x, y, side, _ = box
        # Nearest-neighbour keeps the modules square and sharp, as a laser print would.
        code = np.where(
            cv2.resize(
                matrix.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST
            ).astype(bool),
            30,
            250,
        ).astype(np.uint8)
        sheet[y : y + side, x : x + side] = code[:, :, None]
    return sheet, box


def _rotation(tilt_deg: float, yaw_deg: float, roll_deg: float) -> np.ndarray:
    tx, ty, tz = (math.radians(a) for a in (tilt_deg, yaw_deg, roll_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(tx), -math.sin(tx)], [0, math.sin(tx), math.cos(tx)]])
    ry = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    rz = np.array([[math.cos(tz), -math.sin(tz), 0], [math.sin(tz), math.cos(tz), 0], [0, 0, 1]])
    rotation: np.ndarray = rx @ ry @ rz
    return rotation


def photograph(
    sheet: np.ndarray,
    degradation: Degradation,
    *,
    code_box: tuple[int, int, int, int] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The sheet as the document camera sees it (BGR, `degradation.frame` in size)."""
    rng = np.random.default_rng(seed)
    d = degradation
    frame_w, frame_h = d.frame
    height, width = sheet.shape[:2]

    # Pinhole projection of the sheet's corners after rotating it in 3-D: a real perspective,
    # not an arbitrary quadrilateral, so the far edge really is smaller.
    half_w, half_h = width / 2, height / 2
    corners = np.array(
        [[-half_w, -half_h, 0], [half_w, -half_h, 0], [half_w, half_h, 0], [-half_w, half_h, 0]],
        dtype=np.float64,
    )
    rotated = corners @ _rotation(d.tilt_deg, d.yaw_deg, d.roll_deg).T
    distance = 1.6 * max(width, height)
    projected = rotated[:, :2] * (distance / (distance + rotated[:, 2:3]))
    # Fit the projected sheet into 90 % of the frame, centred.
    span = projected.max(axis=0) - projected.min(axis=0)
    scale = 0.9 * min(frame_w / span[0], frame_h / span[1])
    projected = (projected - projected.min(axis=0)) * scale
    projected += (np.array([frame_w, frame_h]) - projected.max(axis=0)) / 2
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    homography = cv2.getPerspectiveTransform(source, projected.astype(np.float32))
    # A darker, slightly uneven table top around the sheet.
    table = np.full((frame_h, frame_w, 3), (70, 80, 90), np.uint8)
    image: np.ndarray = cv2.warpPerspective(
        sheet,
        homography,
        (frame_w, frame_h),
        dst=table,
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    ).astype(np.float32)

    # Uneven light: a linear fall-off in a random direction.
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:frame_h, 0:frame_w].astype(np.float32)
    ramp = xs * math.cos(angle) + ys * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1.0)
    light: np.ndarray = (1.0 - d.gradient * ramp).astype(np.float32)

    if d.shadow > 0:
        # A soft-edged shadow (a hand, the scanner's arm) over part of the frame; when asked,
        # its edge runs through the middle of the code.
        if code_box is not None and d.shadow_over_code:
            x, y, w, h = code_box
            centre = np.array([[[x + w / 2, y + h / 2]]], dtype=np.float32)
            cx, cy = cv2.perspectiveTransform(centre, homography)[0, 0]
        else:
            cx, cy = rng.uniform(0.2, 0.8) * frame_w, rng.uniform(0.2, 0.8) * frame_h
        direction = rng.uniform(0, 2 * math.pi)
        side = (xs - cx) * math.cos(direction) + (ys - cy) * math.sin(direction)
        mask = cv2.GaussianBlur((side > 0).astype(np.float32), (0, 0), sigmaX=6)
        light *= 1.0 - d.shadow * mask
    image *= light[:, :, None]

    if d.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=d.blur_sigma)
    if d.noise_sigma > 0:
        image = image + rng.normal(0, d.noise_sigma, image.shape).astype(np.float32)
    result: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    if d.jpeg_quality is not None:
        ok, encoded = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, d.jpeg_quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            result = decoded
    return result
