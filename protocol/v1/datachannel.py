"""Messages on the call's data channel (operator console <-> kiosk), peer to peer inside the
encrypted call. Strict like the MQTT contract: the kiosk refuses anything else.

Operator → kiosk (`OperatorAction`): screens (referral), the PIN step, remote control and its
input events (protocol/v1/remote.py), the card check, the face photo, the form scan.
Kiosk → operator (`KioskEvent`): the result of each action, then what the peripherals found:
the card's state (protocol/v1/card.py), photo guidance and the captured photo's report
(protocol/v1/photo.py) with the JPEG in chunks, the form's application ID
(protocol/v1/forms.py), the privacy state, refused remote input (protocol/v1/remote.py).

These are the only messages that may carry a resident's data (a photo, an application ID),
and only because the channel is the encrypted call between the kiosk and the operator.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from protocol.v1.card import CardState
from protocol.v1.forms import FormReadResult
from protocol.v1.messages import StrictModel
from protocol.v1.photo import PhotoGuidance, PhotoReport
from protocol.v1.remote import KeyInput, PointerInput, RemoteInputRefused, TextInput

DATA_CHANNEL_LABEL = "operator"
MAX_DATA_MESSAGE_BYTES = 16 * 1024
# A photo travels in chunks of this many base64 characters (one message each, well under
# the SCTP message size every browser and aiortc accept).
PHOTO_CHUNK_CHARS = 12_000
MAX_PHOTO_CHUNKS = 1_000  # 12 MB of base64: far above the 7 MB upload limit

# The city-hall counters a resident who cannot be helped online is sent to.
ReferralCounter = Literal["mynumber_card", "resident_records", "health_insurance", "pension"]

# --- operator -> kiosk -------------------------------------------------------------------------


class ShowReferral(StrictModel):
    """Show the referral screen: which counter to go to, in the resident's language."""

    type: Literal["show_referral"] = "show_referral"
    counter: ReferralCounter


class ClearScreen(StrictModel):
    """Back to the in-call screen."""

    type: Literal["clear_screen"] = "clear_screen"


class PinStep(StrictModel):
    """The operator marks (or unmarks) a step where the resident types a PIN: the screen
    track goes black and remote input stops until it is unmarked."""

    type: Literal["pin_step"] = "pin_step"
    active: bool


class RemoteControl(StrictModel):
    """The operator takes (or gives back) the kiosk's pointer and keyboard; the resident
    screen says so while it lasts."""

    type: Literal["remote_control"] = "remote_control"
    enabled: bool


class CardCheck(StrictModel):
    """Read the card's state again (reader, card, PIN tries left)."""

    type: Literal["card_check"] = "card_check"


class PhotoPreview(StrictModel):
    """Start or stop the live guidance for the face photo."""

    type: Literal["photo_preview"] = "photo_preview"
    active: bool


class PhotoCapture(StrictModel):
    """Take the face photo now: the kiosk answers with a report and the photo."""

    type: Literal["photo_capture"] = "photo_capture"


class FormScan(StrictModel):
    """Read the application form on the document camera."""

    type: Literal["form_scan"] = "form_scan"


class FormFill(StrictModel):
    """Type the application ID read last into the focused field on the kiosk screen."""

    type: Literal["form_fill"] = "form_fill"


OperatorAction = Annotated[
    ShowReferral
    | ClearScreen
    | PinStep
    | RemoteControl
    | PointerInput
    | KeyInput
    | TextInput
    | CardCheck
    | PhotoPreview
    | PhotoCapture
    | FormScan
    | FormFill,
    Field(discriminator="type"),
]
OPERATOR_ACTION: TypeAdapter[OperatorAction] = TypeAdapter(OperatorAction)

# --- kiosk -> operator -------------------------------------------------------------------------


class ActionResult(StrictModel):
    """The kiosk's answer to each action."""

    type: Literal["result"] = "result"
    action: Annotated[str, Field(max_length=32)]
    ok: bool
    detail: Annotated[str, Field(max_length=200)] | None = None


class PrivacyState(StrictModel):
    """Whether the PIN guard is up (screen blanked, remote input refused) and why, and
    whether the operator controls the kiosk."""

    type: Literal["privacy"] = "privacy"
    pin_guard: bool
    reasons: Annotated[tuple[Literal["tenkey", "operator"], ...], Field(max_length=2)] = ()
    remote_control: bool


CaptureId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class PhotoCaptured(StrictModel):
    """A face photo was taken: its compliance report; the JPEG follows in `chunks` pieces
    (none when no compliant photo could be made)."""

    type: Literal["photo_captured"] = "photo_captured"
    capture_id: CaptureId
    report: PhotoReport
    jpeg_bytes: Annotated[int, Field(ge=0, le=8_000_000)]
    chunks: Annotated[int, Field(ge=0, le=MAX_PHOTO_CHUNKS)]


class PhotoChunk(StrictModel):
    """One piece of the captured photo (JPEG, base64), after its `photo_captured`."""

    type: Literal["photo_chunk"] = "photo_chunk"
    capture_id: CaptureId
    index: Annotated[int, Field(ge=0, lt=MAX_PHOTO_CHUNKS)]
    count: Annotated[int, Field(ge=1, le=MAX_PHOTO_CHUNKS)]
    data: Annotated[str, Field(max_length=PHOTO_CHUNK_CHARS, pattern=r"^[A-Za-z0-9+/=]*$")]


KioskEvent = Annotated[
    ActionResult
    | PrivacyState
    | CardState
    | PhotoGuidance
    | PhotoCaptured
    | PhotoChunk
    | FormReadResult
    | RemoteInputRefused,
    Field(discriminator="type"),
]
KIOSK_EVENT: TypeAdapter[KioskEvent] = TypeAdapter(KioskEvent)
