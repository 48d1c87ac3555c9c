"""The face photo: detection decoding, the compliance check on real photographs and images
derived from them, the 35:45 fix, the live guidance, the CLI and the wire models."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from typer.testing import CliRunner

from edge.images import ImageError
from edge.photo import PhotoError, PhotoSettings, check, fix, guidance
from edge.photo.compliance import (
    _range,
    check_bytes,
    eye_aspect_ratio,
    head_pose,
    laplacian_sharpness,
    robust_spread,
)
from edge.photo.detector import decode, ssd_anchors, weighted_nms
from protocol.v1.photo import PhotoGuidance, PhotoProblem, PhotoReport
from tests.edge import photo_images as pi

pytestmark = pytest.mark.timeout(120)


def codes(report: PhotoReport) -> set[str]:
    return {p.code for p in report.problems}


def jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


# ------------------------------------------------------------------------- detector maths


def test_anchors_match_mediapipe_short_range_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    # 16x16 cells x 2 anchors, then 8x8 cells x 6 anchors.
    assert anchors[0].tolist() == pytest.approx([0.5 / 16, 0.5 / 16])
    assert anchors[1].tolist() == anchors[0].tolist()
    assert anchors[512].tolist() == pytest.approx([0.5 / 8, 0.5 / 8])
    assert anchors[-1].tolist() == pytest.approx([7.5 / 8, 7.5 / 8])


def test_decode_box_around_its_anchor_and_sigmoid_threshold() -> None:
    raw = np.zeros((1, 896, 16), np.float32)
    scores = np.full((1, 896, 1), -10.0, np.float32)
    scores[0, 600] = 3.0  # sigmoid 0.95
    raw[0, 600, 2:4] = 32.0  # w, h = 32 px of 128
    raw[0, 600, 4:6] = [-8.0, -4.0]  # first key point offset
    found = decode(raw, scores, min_score=0.5)
    assert len(found) == 1
    score, values = found[0]
    ax, ay = ssd_anchors()[600]
    assert score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert values[:4].tolist() == pytest.approx([ax - 0.125, ay - 0.125, ax + 0.125, ay + 0.125])
    assert values[4:6].tolist() == pytest.approx([ax - 8 / 128, ay - 4 / 128])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    a = np.array([0.1, 0.1, 0.3, 0.3] + [0.0] * 12)
    b = np.array([0.12, 0.1, 0.32, 0.3] + [0.0] * 12)
    c = np.array([0.6, 0.6, 0.8, 0.8] + [0.0] * 12)
    merged = weighted_nms([(0.9, a), (0.6, b), (0.8, c)])
    assert len(merged) == 2
    assert merged[0][0] == 0.9
    assert merged[0][1][0] == pytest.approx((0.9 * 0.1 + 0.6 * 0.12) / 1.5)


# ------------------------------------------------------------------ measurement functions


def test_eye_aspect_ratio_open_and_closed() -> None:
    points = np.zeros((468, 3))
    for corner_a, top1, top2, corner_b, bottom2, bottom1 in (
        (33, 160, 158, 133, 153, 144),
        (362, 385, 387, 263, 373, 380),
    ):
        points[corner_a, :2], points[corner_b, :2] = (0, 0), (30, 0)
        points[top1, :2], points[top2, :2] = (10, -5), (20, -5)
        points[bottom1, :2], points[bottom2, :2] = (10, 5), (20, 5)
    assert eye_aspect_ratio(points) == pytest.approx(10 / 30)
    points[[160, 158, 385, 387], 1] = -1
    points[[144, 153, 380, 373], 1] = 1
    assert eye_aspect_ratio(points) == pytest.approx(2 / 30)


def test_head_pose_roll_from_eye_line() -> None:
    points = np.zeros((468, 3))
    points[33], points[263] = (0, 0, 0), (100, 100 * np.tan(np.radians(10)), 0)
    points[10], points[152] = (50, -80, 0), (50, 120, 0)
    roll, yaw, pitch = head_pose(points)
    assert roll == pytest.approx(10.0)
    assert yaw == pytest.approx(0.0)
    assert pitch == pytest.approx(0.0)
    assert head_pose(points, pitch_neutral_deg=-9.0)[2] == pytest.approx(9.0)


def test_value_exactly_at_a_limit_passes_and_just_beyond_fails() -> None:
    s = PhotoSettings()
    out: list[PhotoProblem] = []
    _range(
        out,
        s.face_height_max,
        s.face_height_min,
        s.face_height_max,
        "face_too_small",
        "face_too_large",
    )
    _range(
        out,
        s.face_height_min,
        s.face_height_min,
        s.face_height_max,
        "face_too_small",
        "face_too_large",
    )
    assert out == []
    _range(
        out,
        s.face_height_max + 1e-6,
        s.face_height_min,
        s.face_height_max,
        "face_too_small",
        "face_too_large",
    )
    assert [p.code for p in out] == ["face_too_large"]
    assert out[0].message_ja.startswith("顔が大きすぎます")


def test_default_format_thresholds_are_the_published_millimetres() -> None:
    s = PhotoSettings()
    assert s.face_height_min * 45 == pytest.approx(32)
    assert s.face_height_max * 45 == pytest.approx(36)
    assert s.crown_margin_min * 45 == pytest.approx(2)
    assert s.crown_margin_max * 45 == pytest.approx(6)
    assert (s.min_side_px, s.max_side_px) == (480, 6000)
    assert (s.min_file_bytes, s.max_file_bytes) == (20 * 1024, 7 * 1024 * 1024)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_PHOTO_MAX_ROLL_DEG", "3.5")
    assert PhotoSettings().max_roll_deg == 3.5


def test_sharpness_is_zero_on_flat_and_contrast_normalised() -> None:
    assert laplacian_sharpness(np.full((100, 80), 128, np.uint8)) == 0.0
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (120, 100)).astype(np.uint8)
    dim = (texture * 0.3).astype(np.uint8)
    assert laplacian_sharpness(dim) == pytest.approx(laplacian_sharpness(texture), rel=0.1)
    assert robust_spread(np.full(100, 7.0)) == 0.0


# ----------------------------------------------------------------- real photographs: good


def test_good_astronaut_photo_passes() -> None:
    report = check(pi.good_astronaut())
    assert report.ok, report.problems
    assert report.faces == 1 and report.face is not None
    m = report.measurements
    assert m.face_height_ratio is not None and 32 / 45 <= m.face_height_ratio <= 36 / 45
    assert m.crown_margin_ratio is not None and 2 / 45 <= m.crown_margin_ratio <= 6 / 45
    assert abs(m.roll_deg or 0) < 6 and abs(m.yaw_deg or 0) < 8


def test_report_is_json_for_the_data_channel() -> None:
    report = check(pi.good_astronaut())
    again = PhotoReport.model_validate_json(report.model_dump_json())
    assert again == report
    assert json.loads(report.model_dump_json())["type"] == "photo_report"


# ------------------------------------------------------------ derived failures, one each


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("blurred", lambda g: pi.blurred(g), "blurry"),
        ("darkened", lambda g: pi.darkened(g), "too_dark"),
        ("darkened background", lambda g: pi.darkened(g), "background_dark"),
        ("one-sided shadow", lambda g: pi.one_sided_shadow(g), "uneven_light"),
        ("shifted", lambda g: pi.shifted(g, 0.15), "off_centre"),
        ("too small", lambda g: pi.zoomed(g, 0.8), "face_too_small"),
        ("crown margin large", lambda g: pi.zoomed(g, 0.8), "crown_margin_large"),
        ("too large", lambda g: pi.zoomed(g, 1.2), "face_too_large"),
        ("crown cut off", lambda g: pi.zoomed(g, 1.2), "crown_margin_small"),
        ("rotated", lambda g: pi.rotated(g, 15), "head_tilted"),
        ("busy background", lambda g: pi.busy_background(g), "background_busy"),
        ("two faces", lambda g: pi.side_by_side(g), "multiple_faces"),
        (
            "greyscale",
            lambda g: cv2.cvtColor(cv2.cvtColor(g, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR),
            "not_colour",
        ),
        ("16:9 frame", lambda g: pi.kiosk_frame(g), "aspect_ratio"),
        ("too few pixels", lambda g: cv2.resize(g, (350, 450)), "size_out_of_range"),
    ],
)
def test_derived_failure(name: str, make: object, code: str) -> None:
    report = check(make(pi.good_astronaut()))  # type: ignore[operator]
    assert not report.ok
    assert code in codes(report), (name, report.problems)


def test_good_photo_does_not_raise_the_derived_codes() -> None:
    # The derived failures above are caused by the derivation, not by the base photo.
    assert codes(check(pi.good_astronaut())) == set()


def test_hat_is_a_head_covering() -> None:
    report = check(pi.hat_grace())
    assert "head_covering" in codes(report)
    problem = next(p for p in report.problems if p.code == "head_covering")
    assert problem.value is not None and problem.limit is not None


def test_no_face_in_landscape_or_blank() -> None:
    assert "no_face" in codes(check(pi.landscape()))
    assert "no_face" in codes(check(np.full((900, 700, 3), 235, np.uint8)))


def test_closed_eyes_and_pose_limits_come_from_settings() -> None:
    strict = PhotoSettings(min_eye_aspect_ratio=0.9, max_yaw_deg=0.0001, max_pitch_deg=0.0001)
    found = codes(check(pi.good_astronaut(), strict))
    assert {"eyes_closed", "face_turned", "face_up_down"} <= found


# ------------------------------------------------------------------- files and bad input


def test_not_an_image_is_refused() -> None:
    with pytest.raises(ImageError) as caught:
        check_bytes(b"%PDF-1.4 definitely not a photo")
    assert caught.value.code == "not_an_image"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (no pixel data needed to be refused)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_hundred_megapixel_image_is_refused_from_its_header_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(ImageError) as caught:
        check_bytes(_png_header(12_000, 8_400))  # 100.8 MP
    assert caught.value.code == "too_large"
    assert time.perf_counter() - start < 1.0


def test_file_rules_png_and_small_file() -> None:
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(pi.good_astronaut(), cv2.COLOR_BGR2RGB)).save(buffer, "PNG")
    report = check_bytes(buffer.getvalue())
    assert "not_jpeg" in codes(report)
    tiny = check_bytes(jpeg(pi.good_astronaut(), quality=5))
    assert "file_too_small" in codes(tiny)
    assert tiny.file_bytes is not None and tiny.file_bytes < 20 * 1024


def test_good_jpeg_passes_file_rules() -> None:
    report = check_bytes(jpeg(pi.good_astronaut()))
    assert report.ok, report.problems


# ------------------------------------------------------------------------------ fix (crop)


def _assert_upload_ready(data: bytes) -> None:
    assert 20 * 1024 <= len(data) <= 7 * 1024 * 1024
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        width, height = image.size
    assert 480 <= width <= 6000 and 480 <= height <= 6000
    assert abs(height - width * 45 / 35) <= 1


def test_fix_crops_a_camera_frame_to_a_compliant_jpeg() -> None:
    data, report = fix(pi.kiosk_frame(pi.good_astronaut(), face_share=0.6))
    assert report.ok, report.problems
    _assert_upload_ready(data)
    assert check_bytes(data).ok


def test_fix_repairs_a_too_small_face() -> None:
    bad = pi.zoomed(pi.good_astronaut(), 0.8)
    assert "face_too_small" in codes(check(bad))
    data, report = fix(bad)
    assert report.ok, report.problems
    _assert_upload_ready(data)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda g: pi.side_by_side(g), "multiple_faces"),
        (lambda g: pi.landscape(), "no_face"),
        (lambda g: pi.shifted(g, 0.15), "face_near_edge"),
        (lambda g: pi.zoomed(g, 1.25), "face_near_edge"),
        (lambda g: cv2.resize(pi.kiosk_frame(g), (427, 240)), "resolution_too_low"),
    ],
)
def test_fix_refuses_what_cropping_cannot_make_compliant(make: object, code: str) -> None:
    with pytest.raises(PhotoError) as caught:
        fix(make(pi.good_astronaut()))  # type: ignore[operator]
    assert caught.value.code == code
    assert caught.value.message_ja


# -------------------------------------------------------------------------------- guidance


@pytest.mark.parametrize(
    ("frame", "hint"),
    [
        (lambda g: pi.kiosk_frame(g, 0.3), "move_closer"),
        (lambda g: pi.kiosk_frame(g, 0.8), "move_back"),
        (lambda g: pi.kiosk_frame(g, 0.55, -0.3), "centre"),
        (lambda g: pi.rotated(pi.kiosk_frame(g, 0.55), 20), "face_front"),
        (lambda g: pi.darkened(pi.kiosk_frame(g, 0.55), 0.4), "too_dark"),
        (lambda g: cv2.resize(pi.landscape(), (1280, 720)), "no_face"),
        (lambda g: cv2.resize(pi.side_by_side(pi.kiosk_frame(g)), (1280, 720)), "multiple_faces"),
    ],
)
def test_guidance_hints(frame: object, hint: str) -> None:
    result = guidance(frame(pi.good_astronaut()))  # type: ignore[operator]
    assert hint in {h.code for h in result.hints}
    assert not result.ok_to_capture


def test_guidance_ok_to_capture_and_messages() -> None:
    result = guidance(pi.kiosk_frame(pi.good_astronaut(), 0.55))
    assert result.ok_to_capture and result.hints == []
    assert result.face is not None and 0.3 < (result.face.x0 + result.face.x1) / 2 < 0.7
    closer = guidance(pi.kiosk_frame(pi.good_astronaut(), 0.3))
    assert closer.hints[0].message_ja == "もう少し近づいてください"
    assert PhotoGuidance.model_validate_json(closer.model_dump_json()) == closer


def test_guidance_runs_at_15_fps_on_one_core() -> None:
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        frame = pi.kiosk_frame(pi.good_astronaut(), 0.55)
        guidance(frame)
        start = time.perf_counter()
        for _ in range(30):
            guidance(frame)
        assert 30 / (time.perf_counter() - start) >= 15
    finally:
        cv2.setNumThreads(previous)


# ----------------------------------------------------------------------------- wire models


def test_wire_models_are_strict() -> None:
    with pytest.raises(ValidationError):
        PhotoProblem.model_validate({"code": "blurry", "message_ja": "x", "pixels": "AAAA"})
    with pytest.raises(ValidationError):
        PhotoGuidance.model_validate(
            {"type": "photo_guidance", "hints": [], "ok_to_capture": "yes"}
        )


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    from madoguchi.cli import app

    result = runner.invoke(app, ["photo", "check", *args])
    return result.exit_code, result.output


def test_cli_check_good_photo_json(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "good.jpg"
    path.write_bytes(jpeg(pi.good_astronaut()))
    code, output = _invoke(runner, str(path), "--json")
    assert code == 0, output
    payload = json.loads(output)
    assert payload["ok"] is True and payload["problems"] == []


def test_cli_check_bad_photo_lists_problems(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "blurred.jpg"
    path.write_bytes(jpeg(pi.blurred(pi.good_astronaut())))
    code, output = _invoke(runner, str(path), "--json")
    assert code == 1
    payload = json.loads(output)
    assert payload["ok"] is False
    blurry = next(p for p in payload["problems"] if p["code"] == "blurry")
    assert set(blurry) == {"code", "message_ja", "value", "limit"}


def test_cli_fix_writes_a_compliant_jpeg(runner: CliRunner, tmp_path: Path) -> None:
    source, out = tmp_path / "frame.jpg", tmp_path / "fixed.jpg"
    source.write_bytes(jpeg(pi.kiosk_frame(pi.good_astronaut(), 0.6)))
    code, output = _invoke(runner, str(source), "--json", "--fix", str(out))
    assert code == 0, output
    payload = json.loads(output)
    assert payload["ok"] is False and "aspect_ratio" in {p["code"] for p in payload["problems"]}
    assert payload["fixed"]["path"] == str(out)
    _assert_upload_ready(out.read_bytes())
    code, output = _invoke(runner, str(out), "--json")
    assert code == 0 and json.loads(output)["ok"] is True


def test_cli_fix_impossible_is_a_clear_failure(runner: CliRunner, tmp_path: Path) -> None:
    source, out = tmp_path / "two.jpg", tmp_path / "fixed.jpg"
    source.write_bytes(jpeg(pi.side_by_side(pi.good_astronaut())))
    code, output = _invoke(runner, str(source), "--fix", str(out))
    assert code == 1
    assert "multiple_faces" in output and not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"hello, not an image", "画像として読み込めません"), (None, "ファイルを読み込めません")],
)
def test_cli_unreadable_input_exits_2(
    runner: CliRunner, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "input.jpg"
    if content is not None:
        path.write_bytes(content)
    code, output = _invoke(runner, str(path))
    assert code == 2
    assert expected in output


def test_cli_hundred_megapixels_exits_2_json(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(12_000, 8_400))
    code, output = _invoke(runner, str(path), "--json")
    assert code == 2
    assert json.loads(output)["error"] == "too_large"


# --------------------------------------------------------------------------- camera source


def test_picamera_source_says_why_it_is_missing() -> None:
    from edge.media.picamera import PiCamera

    with pytest.raises(OSError, match="picamera2"):
        PiCamera()
