"""The form scanner: the application ID from photographed, shaded, tilted synthetic forms, and
a specific error for everything else. The ID must never reach a log."""

from __future__ import annotations

import json
import logging
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import structlog
from pydantic import ValidationError
from typer.testing import CliRunner

from edge.forms import (
    FormReadError,
    extract_application_id,
    form_result,
    read_application_id,
    read_application_id_bytes,
    read_application_id_file,
)
from edge.forms.synthetic import Degradation
from madoguchi.cli import app
from protocol.v1.forms import FormReadResult
from tests.edge.form_images import FORM_URL, HARSH, form_photo

ID_A = "12345678901234567890123"
ID_B = "98765432109876543210987"
ID_C = "40817263549081726354908"


def _write_jpeg(path: Path, image: np.ndarray) -> Path:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _error_code(call: object, *args: object) -> str:
    with pytest.raises(FormReadError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.code


# --- the ID inside a decoded payload -------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        ID_A,
        f"  {ID_A}\r\n",
        FORM_URL.format(ID_A),
        f"https://net.kojinbango-card.go.jp/apply/{ID_A}",
        f"HTTPS://NET.KOJINBANGO-CARD.GO.JP/x?id={ID_A}&lang=ja",
        f"https://net.kojinbango-card.go.jp/x?id=%31{ID_A[1:]}",
    ],
)
def test_payload_with_one_id(payload: str) -> None:
    assert extract_application_id(payload) == ID_A


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (ID_A[:22], "not_application_id"),
        (ID_A + "4", "not_application_id"),
        ("１２３４５６７８９０１２３４５６７８９０１２３", "not_application_id"),  # full-width
        (f"ID:{ID_A}", "not_application_id"),
        (f"{ID_A[:11]} {ID_A[11:]}", "not_application_id"),
        (f"https://example.com/x?id={ID_A}", "not_application_id"),
        (f"https://net.kojinbango-card.go.jp.evil.example/x?id={ID_A}", "not_application_id"),
        (f"https://net.kojinbango-card.go.jp@evil.example/x?id={ID_A}", "not_application_id"),
        (f"ftp://net.kojinbango-card.go.jp/x?id={ID_A}", "not_application_id"),
        (
            "https://net.kojinbango-card.go.jp/SS_SERVICE_OUT/FA01S001Action.do",
            "not_application_id",
        ),
        (f"https://net.kojinbango-card.go.jp/x?id={ID_A[:22]}", "not_application_id"),
        (f"https://net.kojinbango-card.go.jp/x?a={ID_A}&b={ID_B}", "multiple_ids"),
        (f"https://net.kojinbango-card.go.jp/{ID_A}?id={ID_A}", "multiple_ids"),
        ("", "not_application_id"),
    ],
)
def test_payload_refused(payload: str, code: str) -> None:
    assert _error_code(extract_application_id, payload) == code


# --- photographed forms ----------------------------------------------------------------

CASES = {
    "harsh": HARSH,
    "upside_down": replace(HARSH, roll_deg=183.0, yaw_deg=-8.0),
    "sideways_tilt_25": replace(HARSH, tilt_deg=25.0, roll_deg=92.0, yaw_deg=-15.0),
    "tilt_35_dim": replace(HARSH, tilt_deg=35.0, yaw_deg=0.0, gradient=0.75, shadow=0.5),
    "shadow_elsewhere": replace(HARSH, shadow_over_code=False, blur_sigma=1.3),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["bare", "url"])
def test_photographed_form_gives_exact_id(case: str, kind: str) -> None:
    payload = ID_C if kind == "bare" else FORM_URL.format(ID_C)
    image = form_photo(payload, CASES[case], seed=len(case))
    assert read_application_id(image) == ID_C
    assert read_application_id(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) == ID_C


def test_form_result_carries_the_id() -> None:
    result = form_result(form_photo(FORM_URL.format(ID_B)))
    assert result == FormReadResult(application_id=ID_B)
    assert ID_B not in repr(result)  # a stray log of the object must not leak it


def test_form_without_code() -> None:
    assert _error_code(read_application_id, form_photo(None)) == "no_code"
    blank = np.full((1200, 1600, 3), 200, np.uint8)
    assert _error_code(read_application_id, blank) == "no_code"


@pytest.mark.parametrize("damage", ["black", "white"])
def test_damaged_code(damage: str) -> None:
    gentle = Degradation(tilt_deg=15.0, gradient=0.4, shadow=0.0)
    image = form_photo(ID_A, gentle, damage=damage)
    with pytest.raises(FormReadError) as caught:
        read_application_id(image)
    error = caught.value
    assert error.code == "damaged_code"
    assert error.message_ja.startswith("コードが汚れているか欠けていて")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("https://www.example.com/campaign?id=" + ID_A, "not_application_id"),
        (ID_A[:22], "not_application_id"),
        (f"https://net.kojinbango-card.go.jp/x?a={ID_A}&b={ID_B}", "multiple_ids"),
    ],
)
def test_form_with_wrong_code(payload: str, code: str) -> None:
    assert _error_code(read_application_id, form_photo(payload)) == code


def test_two_forms_with_different_ids_are_refused() -> None:
    left = form_photo(ID_A, Degradation(tilt_deg=0, yaw_deg=0, roll_deg=0, shadow=0.0))
    right = form_photo(ID_B, Degradation(tilt_deg=0, yaw_deg=0, roll_deg=0, shadow=0.0))
    assert _error_code(read_application_id, np.hstack([left, right])) == "multiple_ids"


# --- unusable files ----------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` but carries almost no data: the guard must refuse
    it from the header, without decoding (and without us writing 100 MB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_unusable_files(tmp_path: Path) -> None:
    text = tmp_path / "form.jpg"
    text.write_text("申請書です。\n")
    assert _error_code(read_application_id_file, text) == "not_an_image"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert _error_code(read_application_id_file, empty) == "empty"
    assert _error_code(read_application_id_file, tmp_path / "missing.jpg") == "unreadable"

    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header_only(10_000, 10_000))  # 100 megapixels
    started = time.perf_counter()
    with pytest.raises(FormReadError) as caught:
        read_application_id_file(huge)
    error = caught.value
    assert (error.code, error.message_ja) == ("too_large", "画像が大きすぎます")
    assert time.perf_counter() - started < 0.5
    assert _error_code(read_application_id_bytes, huge.read_bytes()) == "too_large"


# --- the wire model ------------------------------------------------------------------------


def test_form_result_model_is_strict() -> None:
    assert FormReadResult(application_id=ID_A).type == "form_result"
    error = FormReadResult(error="no_code", message_ja="コードが見つかりません。")
    assert error.application_id is None
    for bad in (
        {"application_id": ID_A[:22]},
        {"application_id": "１" * 23},
        {"application_id": ID_A + "\n"},
        {"application_id": ID_A, "error": "no_code", "message_ja": "x"},
        {"error": "no_code"},
        {},
        {"error": "other", "message_ja": "x"},
        {"application_id": ID_A, "extra": 1},
    ):
        with pytest.raises(ValidationError):
            FormReadResult.model_validate(bad)


# --- the ID never reaches a log ------------------------------------------------------------


@pytest.fixture
def log_everything() -> Iterator[None]:
    """structlog at DEBUG whatever an earlier test (e.g. the CLI's WARNING) configured."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("log_everything")
def test_id_never_logged(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    good = form_photo(FORM_URL.format(ID_A))
    wrong = form_photo(f"https://net.kojinbango-card.go.jp/x?a={ID_B}&b={ID_C}")
    with structlog.testing.capture_logs() as events:
        assert read_application_id(good) == ID_A
        assert _error_code(read_application_id, wrong) == "multiple_ids"
        assert form_result(good).application_id == ID_A
    assert [e["event"] for e in events] == [
        "form_read ok",
        "form_read multiple_ids",
        "form_read ok",
    ]
    captured = capsys.readouterr()
    everything = repr(events) + caplog.text + captured.out + captured.err
    for secret in (ID_A, ID_B, ID_C):
        assert secret not in everything


# --- the command -----------------------------------------------------------------------------


def test_cli_form_read(tmp_path: Path) -> None:
    runner = CliRunner()
    photo = _write_jpeg(tmp_path / "form.jpg", form_photo(ID_A))
    result = runner.invoke(app, ["form", "read", str(photo), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"application_id": ID_A}
    plain = runner.invoke(app, ["form", "read", str(photo)])
    assert (plain.exit_code, plain.stdout.strip()) == (0, ID_A)

    blank = _write_jpeg(tmp_path / "blank.jpg", form_photo(None))
    result = runner.invoke(app, ["form", "read", str(blank), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": "no_code",
        "message_ja": "コードが見つかりません。用紙の向きと位置を確認してください",
    }
    text = tmp_path / "note.png"
    text.write_text("not an image")
    result = runner.invoke(app, ["form", "read", str(text), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "not_an_image"
