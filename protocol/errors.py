"""Errors raised when a message breaks the contract.

Error texts name the field and the rule that failed, never the offending value: a payload
may carry anything, and error messages end up in logs.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why a message was refused; used as a metric label, so the set is closed."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    BAD_VERSION = "bad_version"
    INVALID = "invalid"
    UNKNOWN_TOPIC = "unknown_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    KIOSK_MISMATCH = "kiosk_mismatch"


class ProtocolError(ValueError):
    """A message that breaks the contract, with a closed `reason` and a readable `detail`."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
