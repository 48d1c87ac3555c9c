"""Synthetic application forms for the form-reader tests: a segno QR code pasted on an A4
sheet (edge.forms.synthetic), photographed badly. The IDs are made up."""

from __future__ import annotations

import numpy as np
import segno

from edge.forms.synthetic import Degradation, photograph, render_form

FORM_URL = "https://net.kojinbango-card.go.jp/SS_SERVICE_OUT/FA01S001Action.do?shinseishoId={}"

# The hard case every positive test must pass: a steep tilt, strong fall-off of the light,
# a shadow edge across the code, slight blur, noise and JPEG.
HARSH = Degradation(
    tilt_deg=33.0, yaw_deg=12.0, roll_deg=6.0, gradient=0.7, shadow=0.6, shadow_over_code=True
)


def qr_modules(payload: str, *, error: str = "m") -> np.ndarray:
    """The QR code's modules (True = dark), without quiet zone. Always a full QR code, as
    printed on the form (segno would pick Micro QR for a short payload)."""
    return np.array(segno.make_qr(payload, error=error).matrix, dtype=bool)


def form_photo(
    payload: str | None,
    degradation: Degradation = HARSH,
    *,
    seed: int = 0,
    damage: str | None = None,
) -> np.ndarray:
    """A photographed form (BGR) whose code holds `payload` (None: no code). `damage`
    "black"/"white" covers most of the data area, far beyond error correction, but leaves
    the finder patterns so the symbol is still located."""
    modules = None if payload is None else qr_modules(payload)
    if modules is not None and damage is not None:
        n = modules.shape[0]
        modules = modules.copy()
        modules[9 : n - 2, 9 : n - 2] = damage == "black"
    sheet, box = render_form(modules, seed=seed)
    return photograph(sheet, degradation, code_box=box, seed=seed)
