"""The control plane's own presence: each replica keeps a retained `online` on
`madoguchi/v1/cloud/{replica_id}/state`, with a Last Will `offline`, so kiosks know whether
anyone is there to take a call before they offer one."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AwareDatetime, Field, ValidationError

from protocol.errors import ProtocolError, RejectReason
from protocol.v1.codec import MAX_PAYLOAD_BYTES, describe_validation_error
from protocol.v1.ids import ID_PATTERN, is_valid_id
from protocol.v1.messages import SCHEMA_VERSION, StrictModel

CLOUD_PREFIX = "madoguchi/v1/cloud"
CLOUD_STATE_FILTER = f"{CLOUD_PREFIX}/+/state"


class CloudStateMessage(StrictModel):
    schema_version: Literal[1] = Field(1, alias="schema")
    type: Literal["cloud_state"] = "cloud_state"
    replica_id: str = Field(pattern=ID_PATTERN)
    status: Literal["online", "offline"]
    sent_at: AwareDatetime


def cloud_state_topic(replica_id: str) -> str:
    if not is_valid_id(replica_id):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "replica id is not a valid id")
    return f"{CLOUD_PREFIX}/{replica_id}/state"


def decode_cloud_state(topic_name: str, payload: bytes) -> CloudStateMessage:
    parts = topic_name.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != CLOUD_PREFIX or parts[4] != "state":
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "not a cloud state topic")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(RejectReason.TOO_LARGE, "payload is too large")
    try:
        raw: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError(RejectReason.NOT_JSON, "payload is not JSON") from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA_VERSION:
        raise ProtocolError(RejectReason.BAD_VERSION, f"schema version must be {SCHEMA_VERSION}")
    try:
        message = CloudStateMessage.model_validate_json(payload)
    except ValidationError as exc:
        raise ProtocolError(RejectReason.INVALID, describe_validation_error(exc)) from None
    if message.replica_id != parts[3]:
        raise ProtocolError(RejectReason.KIOSK_MISMATCH, "replica_id differs from the topic")
    return message


def encode_cloud_state(message: CloudStateMessage) -> bytes:
    return message.model_dump_json(by_alias=True).encode()
