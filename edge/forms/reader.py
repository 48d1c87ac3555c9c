"""Finding and decoding the application form's 2D code in a stand-scanner photo.

zxing-cpp does the work. Its local-average binarizer already copes with uneven light and
shadows, so the only extra pass that earned its cost on the synthetic test set (see
`bench/form.py` and docs/forms.md) is one for small, soft codes: unsharp-mask, then upscale
×1.5. Passes measured and dropped because they added no decodes beyond these two: CLAHE,
background division (shading flattening), adaptive thresholding, the global-histogram
binarizer, a plain downscale, and OpenCV's QRCodeDetector (also 10–25× slower).

Nothing here logs or returns the code's content except the validated ID to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import structlog
import zxingcpp

from edge.forms.application_id import extract_application_id
from edge.forms.errors import FormReadError
from edge.images import DEFAULT_MAX_PIXELS, ImageError, decode_image, load_image
from protocol.v1.forms import FormReadResult

log = structlog.get_logger("edge.forms")

# The form carries a QR code; Micro QR costs next to nothing and covers a short bare-digits
# payload. No other symbology is searched (fewer false finds, less time).
_FORMATS = zxingcpp.BarcodeFormats(
    [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode]
)
_QR_FORMATS = {zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode}
# Upscaling beyond this many pixels on the long side costs more than it finds.
_MAX_UPSCALED_SIDE = 4000


@dataclass(frozen=True)
class _PassResult:
    texts: list[str]
    damaged: bool  # a QR symbol was located but failed its error correction


def _zxing(gray: np.ndarray) -> _PassResult:
    found = zxingcpp.read_barcodes(
        gray,
        formats=_FORMATS,
        try_rotate=True,  # the sheet may lie sideways or upside down
        try_downscale=True,  # large frames and large codes
        try_invert=False,  # a printed form is dark on light; halves the work
        return_errors=True,  # to tell a damaged code from no code
    )
    texts = [b.text for b in found if b.valid]
    damaged = any(not b.valid and b.format in _QR_FORMATS for b in found)
    return _PassResult(texts, damaged)


def _sharpen_upscale(gray: np.ndarray) -> np.ndarray:
    # A blurred, JPEG-softened code with ~3 px modules: unsharp masking restores the module
    # edges and the upscale gives the sampling grid room.
    soft = cv2.GaussianBlur(gray, (0, 0), 1.5)
    sharp = cv2.addWeighted(gray, 1.8, soft, -0.8, 0)
    scale = min(1.5, _MAX_UPSCALED_SIDE / max(gray.shape[:2]))
    if scale <= 1.05:
        return sharp
    return cv2.resize(sharp, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


PASSES: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
    ("zxing", lambda gray: gray),
    ("sharpen_upscale", _sharpen_upscale),
]


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise FormReadError("not_an_image", "画像として読み込めません")


def read_application_id(image_bgr: np.ndarray) -> str:
    """The 23-digit application ID on the form in the picture (BGR or grayscale), or
    `FormReadError` with `no_code`, `damaged_code`, `not_application_id` or `multiple_ids`."""
    started = time.perf_counter()
    gray = np.ascontiguousarray(_gray(image_bgr))
    damaged = False
    other_code = False
    error: FormReadError | None = None
    for name, prepare in PASSES:
        result = _zxing(prepare(gray))
        damaged = damaged or result.damaged
        ids: set[str] = set()
        for text in result.texts:
            try:
                ids.add(extract_application_id(text))
            except FormReadError as exc:
                other_code = True
                if exc.code == "multiple_ids":
                    error = exc
        if len(ids) > 1:
            error = FormReadError("multiple_ids")
            break
        if ids:
            # Code and timing only: the ID itself is personal data.
            log.info("form_read ok", decode_pass=name, ms=_ms(started))
            return ids.pop()
    if error is None:
        code = "not_application_id" if other_code else "damaged_code" if damaged else "no_code"
        error = FormReadError(code)  # type: ignore[arg-type]  # one of the three literals
    log.info(f"form_read {error.code}", ms=_ms(started))
    raise error


def read_application_id_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """`read_application_id` on an encoded image (e.g. a scan received over the call)."""
    try:
        image = decode_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        raise _from_image_error(exc) from exc
    return read_application_id(image)


def read_application_id_file(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """`read_application_id` on an image file; unusable files raise `FormReadError` with the
    image guard's code (`not_an_image`, `too_large`, `empty`, `unreadable`)."""
    try:
        image = load_image(path, max_pixels=max_pixels)
    except ImageError as exc:
        raise _from_image_error(exc) from exc
    return read_application_id(image)


def _from_image_error(exc: ImageError) -> FormReadError:
    log.info(f"form_read {exc.code}")
    return FormReadError(exc.code, exc.message_ja)  # type: ignore[arg-type]  # same codes


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def form_result(image_bgr: np.ndarray) -> FormReadResult:
    """The data-channel answer for a picture: never raises."""
    try:
        return FormReadResult(application_id=read_application_id(image_bgr))
    except FormReadError as exc:
        return FormReadResult(error=exc.code, message_ja=exc.message_ja)


def form_result_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> FormReadResult:
    """The data-channel answer for an encoded image: never raises."""
    try:
        return FormReadResult(application_id=read_application_id_bytes(data, max_pixels=max_pixels))
    except FormReadError as exc:
        return FormReadResult(error=exc.code, message_ja=exc.message_ja)
