"""Messages between the operator's console and the control plane over the WebSocket.

Strict and closed like the MQTT contract: an unknown type or field is refused with a
reason, and the socket stays open.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from cloud.routing.models import NotCompletedReason, Outcome, Procedure
from protocol.v1.messages import SdpText

CallId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetPresence(_Message):
    type: Literal["presence"]
    status: Literal["available", "away"]


class SetTraining(_Message):
    """研修モード: take only training calls (on), or only real ones (off)."""

    type: Literal["training"]
    enabled: bool


class Accept(_Message):
    type: Literal["accept"]
    call_id: CallId


class Answer(_Message):
    type: Literal["answer"]
    call_id: CallId
    sdp: SdpText


class HangUp(_Message):
    type: Literal["hangup"]
    call_id: CallId


class RecordOutcome(_Message):
    type: Literal["outcome"]
    call_id: CallId
    procedure: Procedure
    outcome: Outcome
    reason: NotCompletedReason | None = None


class Ping(_Message):
    type: Literal["ping"]


class Invite(_Message):
    """Make a single-use link for a third party to join this call."""

    type: Literal["invite"]
    call_id: CallId


class GuestOffer(_Message):
    """The console's SDP offer to the guest who joined through an invite."""

    type: Literal["guest_offer"]
    call_id: CallId
    sdp: SdpText


ConsoleMessage = Annotated[
    SetPresence
    | SetTraining
    | Accept
    | Answer
    | HangUp
    | RecordOutcome
    | Ping
    | Invite
    | GuestOffer,
    Field(discriminator="type"),
]


class GuestAnswer(_Message):
    type: Literal["answer"]
    sdp: SdpText


GuestMessage = Annotated[GuestAnswer | Ping, Field(discriminator="type")]
GUEST_MESSAGE: TypeAdapter[GuestMessage] = TypeAdapter(GuestMessage)
CONSOLE_MESSAGE: TypeAdapter[ConsoleMessage] = TypeAdapter(ConsoleMessage)
MAX_CONSOLE_MESSAGE_BYTES = 40_000
