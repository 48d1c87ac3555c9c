"""Thresholds of the face-photo checks, with their defaults and where each comes from.

Format rules (see docs/photo.md for the sources): the photo is 45 mm high x 35 mm wide; the
face from the crown (hair included) to the chin is 34 +/- 2 mm; the crown is 4 +/- 2 mm below
the top edge; the online application takes a colour JPEG, each side 480-6000 px, 20 KB-7 MB.
The image-quality thresholds (sharpness, light, background, pose) are this project's own,
tuned on real photographs; they are configuration (`MADOGUCHI_PHOTO_*`), not law.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PHOTO_HEIGHT_MM = 45.0
PHOTO_WIDTH_MM = 35.0


class PhotoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_PHOTO_", extra="forbid", frozen=True)

    # --- the 45 x 35 mm format (ratios of the photo height) ---
    face_height_min: float = Field(32.0 / 45, description="Crown-to-chin, min (32 mm of 45)")
    face_height_max: float = Field(36.0 / 45, description="Crown-to-chin, max (36 mm of 45)")
    face_height_target: float = Field(34.0 / 45, description="What `fix` crops to (34 mm)")
    crown_margin_min: float = Field(2.0 / 45, description="Top edge to crown, min (2 mm)")
    crown_margin_max: float = Field(6.0 / 45, description="Top edge to crown, max (6 mm)")
    crown_margin_target: float = Field(4.0 / 45, description="What `fix` crops to (4 mm)")
    centre_tolerance: float = Field(
        0.05, description="Face centre off the vertical mid-line, max (ratio of the width)"
    )
    aspect_tolerance_px: int = Field(1, description="Height vs width x 45/35, max difference")

    # --- the online application's upload rules ---
    min_side_px: int = Field(480, description="Each side at least (px)")
    max_side_px: int = Field(6000, description="Each side at most (px)")
    min_file_bytes: int = Field(20 * 1024, description="JPEG file at least 20 KB")
    max_file_bytes: int = Field(7 * 1024 * 1024, description="JPEG file at most 7 MB")
    jpeg_quality: int = Field(92, ge=50, le=100, description="First quality `fix` tries")
    max_upscale: float = Field(
        1.6, description="`fix` may enlarge a crop up to this factor to reach 480 px wide"
    )

    # --- detection ---
    detection_min_score: float = Field(0.5, description="BlazeFace score to count a face")
    landmark_min_presence: float = Field(0.5, description="Face-mesh presence score, min")

    # --- pose (degrees, from the 468-point mesh; about +/- 2 degrees of noise) ---
    max_roll_deg: float = Field(6.0, description="Head tilted sideways, max")
    max_yaw_deg: float = Field(8.0, description="Head turned left/right, max")
    max_pitch_deg: float = Field(10.0, description="Head up/down from neutral, max")
    pitch_neutral_deg: float = Field(
        -9.0,
        description="The mesh's forehead-chin line leans back by this much in a level face",
    )

    # --- crown estimate ---
    crown_factor: float = Field(
        0.45,
        description="Crown above the forehead-top landmark (10), as a share of its distance "
        "to the chin (152); used when the hair's top edge cannot be found on the background",
    )
    crown_search: float = Field(
        0.8, description="How far above landmark 10 the hair edge is searched (same unit)"
    )

    # --- eyes ---
    min_eye_aspect_ratio: float = Field(
        0.16, description="Eye height / width (EAR) of each eye, min; closed eyes are ~0.1"
    )

    # --- sharpness: variance of the Laplacian, face resized to 256 px high, std-dev 50 ---
    min_sharpness: float = Field(
        15.0, description="Variance of the Laplacian, min (sharp faces ~30-300, blurred <10)"
    )

    # --- light (grey levels 0-255 on the face skin) ---
    min_face_brightness: float = Field(85.0, description="Face mean grey level, min")
    max_face_brightness: float = Field(225.0, description="Face mean grey level, max")
    min_light_balance: float = Field(
        0.7, description="Darker face half / brighter half, min (a strong one-sided shadow)"
    )

    # --- background (outside the head, above the shoulders) ---
    min_background_brightness: float = Field(150.0, description="Mean grey level, min")
    max_background_std: float = Field(
        12.0, description="Robust std-dev of grey levels, max (patterns, objects, shadows)"
    )
    min_background_share: float = Field(
        0.03, description="Background pixels needed to judge it (share of the photo)"
    )

    # --- head covering: colour distance (CIELAB delta E) of the top of the head ---
    head_covering_delta_e: float = Field(
        28.0,
        description="The top of the head differs from hair beside the face, forehead skin and "
        "background by more than this",
    )

    # --- live preview guidance (shares of the frame height / width) ---
    guidance_min_face: float = Field(0.42, description="Crown-to-chin below this: move closer")
    guidance_max_face: float = Field(0.68, description="Crown-to-chin above this: move back")
    guidance_centre_tolerance: float = Field(0.08, description="Face centre off the middle")
