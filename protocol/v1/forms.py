"""The form scanner's answer on the call's data channel (kiosk -> operator console).

The application ID (申請書ID) is personal data: it travels only in this message, inside the
encrypted call, to the operator who types it into the application site. It is hidden from
the model's repr so a stray log line of the object does not leak it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from protocol.v1.messages import StrictModel

# Exactly 23 ASCII digits ([0-9], not \d: that would admit full-width digits).
ApplicationId = Annotated[str, Field(pattern=r"^[0-9]{23}$")]

FormErrorCode = Literal[
    "no_code",  # no 2D code in the picture
    "damaged_code",  # a code was located but could not be decoded
    "not_application_id",  # a code that is not the form's (another URL, 22 digits, …)
    "multiple_ids",  # several application IDs: ambiguous, refused
    # The image itself was unusable (edge.images).
    "not_an_image",
    "too_large",
    "empty",
    "unreadable",
    # The kiosk could not take the picture (document camera missing or silent).
    "camera_unavailable",
]


class FormReadResult(StrictModel):
    """Either the application ID, or an error code with the operator's message."""

    type: Literal["form_result"] = "form_result"
    application_id: ApplicationId | None = Field(default=None, repr=False)
    error: FormErrorCode | None = None
    message_ja: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> FormReadResult:
        if (self.application_id is None) == (self.error is None):
            raise ValueError("exactly one of application_id and error must be set")
        if (self.error is None) != (self.message_ja is None):
            raise ValueError("message_ja goes with error, and only with it")
        return self
