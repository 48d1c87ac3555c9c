"""The card reader's state, sent to the operator console over the call's data channel (JSON).

It says whether a reader and a card are there, whether the card is a My Number Card, and how
many tries the two PINs the procedures need have left, so the operator can refer a nearly
locked card to the city-hall counter before the resident types. By construction it carries
no personal data: no My Number, no name, no certificate, no ATR, no card serial; only
enumerations, small counters, the reader's model name and a fixed Japanese message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from protocol.v1.messages import StrictModel

# present: the reader is there; absent: no (matching) reader is plugged in;
# service_unavailable: the PC/SC service (pcscd) does not answer, so nothing is known.
ReaderStatus = Literal["present", "absent", "service_unavailable"]
# none: no card on the reader; mynumber: the JPKI application answered SELECT;
# other: a card that is not a My Number Card; mute: a card that does not answer;
# unknown: a card is there but could not be examined (held exclusively by another program).
CardKind = Literal["none", "mynumber", "other", "mute", "unknown"]
# Why the last read is incomplete, for the console's logic (the message says it in words).
CardProblem = Literal["read_interrupted", "card_busy", "reader_error"]

PinTries = Annotated[int, Field(ge=0, le=15)]  # 63Cx carries 4 bits
ReaderName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MessageJa = Annotated[str, StringConstraints(min_length=1, max_length=200)]

# At or below this many tries the operator is told to refer the resident to the counter.
LOW_TRIES = 1

_PIN_LABELS_JA = {
    "user_auth": "利用者証明用電子証明書の暗証番号",
    "input_support": "券面事項入力補助用の暗証番号",
}


class CardState(StrictModel):
    """One observation of the card reader."""

    type: Literal["card_state"] = "card_state"
    reader: ReaderStatus
    reader_name: ReaderName | None = Field(
        None, description="The PC/SC reader name (a device model, never card data)"
    )
    card: CardKind = "none"
    user_auth_pin_tries: PinTries | None = Field(
        None,
        description="Tries left of the JPKI user-authentication PIN (EF 0018); 0 = blocked; "
        "None when unknown",
    )
    input_support_pin_tries: PinTries | None = Field(
        None,
        description="Tries left of the 4-digit card-face input-support PIN (EF 0011); "
        "0 = blocked; None when unknown",
    )
    problem: CardProblem | None = None
    message_ja: MessageJa

    @model_validator(mode="after")
    def _consistent(self) -> CardState:
        if self.reader != "present" and self.card != "none":
            raise ValueError("a card needs a reader")
        if self.card != "mynumber" and (
            self.user_auth_pin_tries is not None or self.input_support_pin_tries is not None
        ):
            raise ValueError("PIN tries exist only for a My Number Card")
        return self

    @classmethod
    def of(
        cls,
        *,
        reader: ReaderStatus,
        reader_name: str | None = None,
        card: CardKind = "none",
        user_auth_pin_tries: int | None = None,
        input_support_pin_tries: int | None = None,
        problem: CardProblem | None = None,
    ) -> CardState:
        """Build a state with its operator message worked out from the fields."""
        return cls(
            reader=reader,
            reader_name=reader_name,
            card=card,
            user_auth_pin_tries=user_auth_pin_tries,
            input_support_pin_tries=input_support_pin_tries,
            problem=problem,
            message_ja=message_for(
                reader=reader,
                card=card,
                user_auth_pin_tries=user_auth_pin_tries,
                input_support_pin_tries=input_support_pin_tries,
                problem=problem,
            ),
        )

    @property
    def needs_referral(self) -> bool:
        """True when a PIN is blocked or one wrong entry away from it."""
        return any(
            tries is not None and tries <= LOW_TRIES
            for tries in (self.user_auth_pin_tries, self.input_support_pin_tries)
        )


def message_for(
    *,
    reader: ReaderStatus,
    card: CardKind,
    user_auth_pin_tries: int | None,
    input_support_pin_tries: int | None,
    problem: CardProblem | None,
) -> str:
    """The one-line Japanese message the operator sees (fixed phrases, no card data)."""
    if reader == "service_unavailable":
        return "カードリーダーのサービスに接続できません。技術担当へ連絡してください"
    if reader == "absent":
        return "カードリーダーが接続されていません。接続を確認してください"
    if problem == "read_interrupted":
        return "読み取り中にカードが取り外されました。カードを置き直してください"
    if problem == "card_busy":
        return "カードは他のソフトウェアが使用中です。しばらく待ってから確認してください"
    if problem == "reader_error":
        return "カードリーダーでエラーが発生しました。カードを置き直してください"
    if card == "none":
        return "カードが置かれていません"
    if card == "mute":
        return "カードが応答しません。カードを置き直してください"
    if card == "other":
        return "マイナンバーカードではありません。カードを確認してください"
    if card == "unknown":
        return "カードを確認できません。カードを置き直してください"
    tries = {"user_auth": user_auth_pin_tries, "input_support": input_support_pin_tries}
    blocked = [_PIN_LABELS_JA[k] for k, v in tries.items() if v == 0]
    if blocked:
        return f"{'・'.join(blocked)}がロックされています。市役所の窓口をご案内ください"
    low = [_PIN_LABELS_JA[k] for k, v in tries.items() if v is not None and v <= LOW_TRIES]
    if low:
        return f"{'・'.join(low)}の残り回数が1回です。市役所の窓口をご案内ください"
    left = "、".join(
        f"{label} 残り{tries[k]}回" if tries[k] is not None else f"{label} 残り回数不明"
        for k, label in (("user_auth", "利用者証明用"), ("input_support", "券面事項入力補助用"))
    )
    return f"マイナンバーカードを確認しました（{left}）"
