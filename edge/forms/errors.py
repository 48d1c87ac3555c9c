"""Why a form could not be read: a stable code for programs, a Japanese message for staff.

The English `message` is for developers; none of the three ever carries the code's content
(the application ID is personal data)."""

from __future__ import annotations

from typing import Final

from protocol.v1.forms import FormErrorCode

__all__ = ["MESSAGES_EN", "MESSAGES_JA", "FormErrorCode", "FormReadError"]

MESSAGES_JA: Final[dict[str, str]] = {
    "no_code": "コードが見つかりません。用紙の向きと位置を確認してください",
    "damaged_code": (
        "コードが汚れているか欠けていて読み取れません。用紙を平らに置き直してください。"
        "読み取れない場合は申請書IDを手入力してください"
    ),
    "not_application_id": (
        "申請書のコードではありません。個人番号カード交付申請書の二次元コードを置いてください"
    ),
    "multiple_ids": "申請書IDが複数見つかりました。申請書を1枚だけ置いてください",
}

MESSAGES_EN: Final[dict[str, str]] = {
    "no_code": "no 2D code was found in the image",
    "damaged_code": "a 2D code was found but could not be decoded",
    "not_application_id": "the code does not hold an application ID",
    "multiple_ids": "more than one application ID was found",
}


class FormReadError(ValueError):
    """The form's application ID could not be read. `code` for programs, `message_ja` for the
    operator."""

    def __init__(self, code: FormErrorCode, message_ja: str | None = None) -> None:
        super().__init__(MESSAGES_EN.get(code, code))
        self.code: FormErrorCode = code
        self.message_ja = message_ja if message_ja is not None else MESSAGES_JA[code]
