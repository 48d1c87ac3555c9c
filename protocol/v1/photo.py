"""Face-photo messages on the call's data channel (kiosk -> operator console), as JSON.

Measurements and advice only, never pixels: the photo itself travels separately (the JPEG the
operator approves). Strict like every other data-channel message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from protocol.v1.messages import StrictModel

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
MessageJa = Annotated[str, Field(min_length=1, max_length=120)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class PhotoProblem(StrictModel):
    """One failed rule: a stable code, the operator's message, the measured value and limit."""

    code: Code
    message_ja: MessageJa
    value: float | None = None
    limit: Annotated[str, Field(max_length=60)] | None = None


class FaceBox(StrictModel):
    """The face from crown to chin and cheek to cheek, as shares of the image (0-1)."""

    x0: Ratio
    y0: Ratio
    x1: Ratio
    y1: Ratio


class PhotoMeasurements(StrictModel):
    """What the check measured (None where it did not get that far)."""

    face_height_ratio: float | None = None
    crown_margin_ratio: float | None = None
    centre_offset: float | None = None
    roll_deg: float | None = None
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    eye_aspect_ratio: float | None = None
    sharpness: float | None = None
    face_brightness: float | None = None
    light_balance: float | None = None
    background_brightness: float | None = None
    background_std: float | None = None
    head_top_delta_e: float | None = None


class PhotoReport(StrictModel):
    """The compliance report on one photo."""

    type: Literal["photo_report"] = "photo_report"
    ok: bool
    problems: Annotated[list[PhotoProblem], Field(max_length=40)]
    width: Annotated[int, Field(ge=0)]
    height: Annotated[int, Field(ge=0)]
    faces: Annotated[int, Field(ge=0)]
    face: FaceBox | None = None
    measurements: PhotoMeasurements = PhotoMeasurements()
    file_bytes: Annotated[int, Field(ge=0)] | None = None


class PhotoHint(StrictModel):
    code: Code
    message_ja: MessageJa


class PhotoGuidance(StrictModel):
    """Live-preview advice for one camera frame; `face` draws the outline on the preview."""

    type: Literal["photo_guidance"] = "photo_guidance"
    hints: Annotated[list[PhotoHint], Field(max_length=10)]
    face: FaceBox | None = None
    ok_to_capture: bool
