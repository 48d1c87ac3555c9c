"""Remote-control messages on the call's data channel: the operator's pointer and keyboard in
the console drive the kiosk's screen.

Operator -> kiosk: `pointer`, `key` and `text` (the `RemoteInput` union, discriminated on
`type`). Kiosk -> operator: `remote_refused` for an input that was not injected and
`remote_status` for the console's "remote control" indicator.

Everything is bounded: coordinates are fractions of the kiosk screen (the console maps its
<video> element, the kiosk scales by its own screen size, so neither side needs the other's
resolution), wheel steps are small integers, key names and text are short printable ASCII.
The kiosk refuses anything else. A `text` may carry an application ID, so its value is kept
out of `repr()` and the kiosk never logs it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, TypeAdapter, model_validator

from protocol.v1.messages import StrictModel

# A remote-input message is tiny; anything bigger is refused before JSON parsing.
MAX_REMOTE_INPUT_BYTES = 512
MAX_TEXT_LENGTH = 64
MAX_WHEEL_STEPS = 10

# 0..1 of the kiosk screen width/height; NaN and infinities are refused.
ScreenFraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PointerButton = Literal["left", "middle", "right"]
# Wheel "notches" (the console converts WheelEvent deltas): positive dy scrolls down,
# positive dx scrolls right, as in the browser.
WheelSteps = Annotated[int, Field(ge=-MAX_WHEEL_STEPS, le=MAX_WHEEL_STEPS)]
# `KeyboardEvent.key`: one printable ASCII character ("a", "@", " ") or a named key
# ("Enter", "ArrowLeft", "F5"). Anything else (composed non-ASCII characters) is refused here;
# named keys the kiosk does not know ("Convert", "KanaMode", …) are refused as `unknown_key`.
BrowserKey = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=24, pattern=r"^(?:[\x20-\x7e]|[A-Za-z][A-Za-z0-9]{1,23})$"
    ),
]
# Typed into the focused field, e.g. a 23-digit application ID. No control characters.
PrintableText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"^[\x20-\x7e]+$"),
]

RemoteInputType = Literal["pointer", "key", "text"]

# Why an input was not injected (reported back to the console, counted in the status).
RefusalReason = Literal[
    "invalid_message",  # not a valid remote-input message (schema, size, JSON)
    "not_enabled",  # no accepted call with consent, or the operator has not taken control
    "blocked_pin_entry",  # the resident is typing a PIN, or the operator marked a PIN step
    "rate_limited",  # over the per-kind rate; dropped, never queued
    "denied_key",  # on the deny-list (VT switching, leaving kiosk mode, browser chrome)
    "denied_button",  # a pointer button the kiosk does not accept (middle by default)
    "unknown_key",  # a key name the kiosk does not map (IME keys, dead keys, …)
    "unmapped_key",  # the kiosk's keyboard map has no key for it; the map is never changed
    "injection_failed",  # the X server refused or the display is gone
]
# Why remote input is blocked; several may hold at once.
BlockReason = Literal["tenkey_pin_entry", "operator_pin_step"]


class PointerInput(StrictModel):
    """Pointer motion, a button going down or up, or wheel steps, at (x, y) of the screen.

    Buttons and wheel are injected with no keyboard modifier held, so Ctrl/Shift + click
    (open link in a new tab/window) and Ctrl + wheel (zoom) cannot happen.
    """

    type: Literal["pointer"] = "pointer"
    action: Literal["move", "down", "up", "wheel"]
    x: ScreenFraction
    y: ScreenFraction
    button: PointerButton | None = None
    dx: WheelSteps = 0
    dy: WheelSteps = 0

    @model_validator(mode="after")
    def _fields_match_action(self) -> PointerInput:
        pressing = self.action in ("down", "up")
        if pressing != (self.button is not None):
            raise ValueError("button is required for down/up and not allowed otherwise")
        if self.action == "wheel":
            if self.dx == 0 and self.dy == 0:
                raise ValueError("wheel needs a non-zero dx or dy")
        elif self.dx != 0 or self.dy != 0:
            raise ValueError("dx/dy are only for wheel")
        return self


class KeyInput(StrictModel):
    """A key going down, up, or pressed (down and up) with the given modifiers held.

    `key` is the browser's `KeyboardEvent.key`; the modifier flags are its
    ctrlKey/altKey/shiftKey/metaKey. For a `press` the kiosk holds exactly these modifiers
    around the key and releases them afterwards.
    """

    type: Literal["key"] = "key"
    action: Literal["down", "up", "press"]
    key: BrowserKey
    ctrl: bool = False
    alt: bool = False
    shift: bool = False
    meta: bool = False


class TextInput(StrictModel):
    """Type a short printable-ASCII string into the focused field (e.g. an application ID the
    operator read from the form). Never logged; hidden from `repr()`."""

    type: Literal["text"] = "text"
    text: PrintableText = Field(repr=False)


RemoteInput = Annotated[PointerInput | KeyInput | TextInput, Field(discriminator="type")]
REMOTE_INPUT: TypeAdapter[RemoteInput] = TypeAdapter(RemoteInput)


class RemoteInputTooLargeError(ValueError):
    pass


def parse_remote_input(raw: str | bytes) -> RemoteInput:
    """Validate one data-channel message; raises `ValueError` (pydantic's `ValidationError`
    or `RemoteInputTooLargeError`) for anything that is not a valid remote input."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_REMOTE_INPUT_BYTES:
        raise RemoteInputTooLargeError(f"remote input is {size} bytes")
    return REMOTE_INPUT.validate_json(raw)


# --- kiosk -> operator -----------------------------------------------------------------------


class RemoteInputRefused(StrictModel):
    """One input was not injected, and why. `rate_limited` drops are only counted in the
    status (a flood must not become a flood of answers)."""

    type: Literal["remote_refused"] = "remote_refused"
    input: RemoteInputType | None = Field(
        None, description="None when the message could not be parsed"
    )
    reason: RefusalReason


class RemoteControlStatus(StrictModel):
    """Whether remote control is live, what blocks it, and counters since the call began."""

    type: Literal["remote_status"] = "remote_status"
    enabled: bool
    blocked: Annotated[tuple[BlockReason, ...], Field(max_length=2)] = ()
    injected: int = Field(0, ge=0)
    refused: dict[RefusalReason, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, max_length=9
    )
