"""Messages on the call's data channel (operator console <-> kiosk), peer to peer inside the
encrypted call. Strict like the MQTT contract: the kiosk refuses anything else.

The peripherals work adds the remote-operation actions; the call work uses the screens.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from protocol.v1.messages import StrictModel

DATA_CHANNEL_LABEL = "operator"
MAX_DATA_MESSAGE_BYTES = 16 * 1024

# The city-hall counters a resident who cannot be helped online is sent to.
ReferralCounter = Literal["mynumber_card", "resident_records", "health_insurance", "pension"]


class ShowReferral(StrictModel):
    """Show the referral screen: which counter to go to, in the resident's language."""

    type: Literal["show_referral"] = "show_referral"
    counter: ReferralCounter


class ClearScreen(StrictModel):
    """Back to the in-call screen."""

    type: Literal["clear_screen"] = "clear_screen"


OperatorAction = Annotated[ShowReferral | ClearScreen, Field(discriminator="type")]
OPERATOR_ACTION: TypeAdapter[OperatorAction] = TypeAdapter(OperatorAction)


class ActionResult(StrictModel):
    """The kiosk's answer to each action."""

    type: Literal["result"] = "result"
    action: Annotated[str, Field(max_length=32)]
    ok: bool
    detail: Annotated[str, Field(max_length=200)] | None = None
