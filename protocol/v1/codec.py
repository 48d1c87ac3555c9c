"""Bytes <-> messages, with the checks that make the contract strict.

`decode` is pure: it takes the topic string and payload bytes and either returns a message
or raises `ProtocolError`. It never echoes payload values in its errors.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from protocol.errors import ProtocolError, RejectReason
from protocol.v1.messages import (
    CLOUD_CALL_ACTIONS,
    KIOSK_CALL_ACTIONS,
    SCHEMA_VERSION,
    CallMessage,
    CommandMessage,
    CommandResultMessage,
    ConfigMessage,
    Envelope,
    EventMessage,
    KioskMessage,
    LogBundleMessage,
    ScreenshotMessage,
    SiteCheckMessage,
    StateMessage,
    TelemetryMessage,
)
from protocol.v1.topics import Topic, TopicKind, parse_topic

MAX_PAYLOAD_BYTES = 64 * 1024

_ADAPTER: TypeAdapter[KioskMessage] = TypeAdapter(KioskMessage)

_TYPE_FOR_KIND: dict[TopicKind, type[Envelope]] = {
    TopicKind.STATE: StateMessage,
    TopicKind.TELEMETRY: TelemetryMessage,
    TopicKind.EVENT: EventMessage,
    TopicKind.COMMAND: CommandMessage,
    TopicKind.COMMAND_RESULT: CommandResultMessage,
    TopicKind.CONFIG: ConfigMessage,
    TopicKind.CALL_UP: CallMessage,
    TopicKind.CALL_DOWN: CallMessage,
    TopicKind.LOGS: LogBundleMessage,
    TopicKind.SCREENSHOT: ScreenshotMessage,
    TopicKind.SITE_CHECK: SiteCheckMessage,
}


def message_type_for(kind: TopicKind) -> type[Envelope]:
    """The one message class allowed on a topic kind."""
    return _TYPE_FOR_KIND[kind]


def describe_validation_error(error: ValidationError) -> str:
    """A one-line summary naming fields and rules, without the input values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:5]:
        location = ".".join(str(part) for part in item["loc"]) or "(message)"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def decode(
    topic_name: str, payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES
) -> tuple[Topic, KioskMessage]:
    """Parse and check one message received on `topic_name`.

    The JSON is parsed once on the good path; only a refused payload is parsed again, to
    say precisely why it was refused.
    """
    parsed_topic = parse_topic(topic_name)
    if len(payload) > max_bytes:
        raise ProtocolError(
            RejectReason.TOO_LARGE, f"payload is {len(payload)} bytes, limit {max_bytes}"
        )
    expected = message_type_for(parsed_topic.kind)
    try:
        # JSON mode: strict types, but ISO datetimes and UUID strings are accepted as such.
        message = _ADAPTER.validate_json(payload)
    except ValidationError as exc:
        raise _diagnose(payload, expected, parsed_topic, exc) from None
    if "schema_version" not in message.model_fields_set:
        # The model defaults it for senders; a received message must state its version.
        raise ProtocolError(
            RejectReason.BAD_VERSION, f"schema version must be {SCHEMA_VERSION} (field missing)"
        )
    if not isinstance(message, expected):
        raise _topic_mismatch(parsed_topic, expected)
    if message.kiosk_id != parsed_topic.kiosk_id:
        raise ProtocolError(
            RejectReason.KIOSK_MISMATCH, "kiosk_id in the payload differs from the topic"
        )
    if isinstance(message, CallMessage):
        allowed = (
            KIOSK_CALL_ACTIONS if parsed_topic.kind is TopicKind.CALL_UP else CLOUD_CALL_ACTIONS
        )
        if message.action not in allowed:
            raise ProtocolError(
                RejectReason.TOPIC_MISMATCH,
                f"call action '{message.action}' is not sent on '{parsed_topic.kind.value}'",
            )
    return parsed_topic, message


def _topic_mismatch(parsed_topic: Topic, expected: type[Envelope]) -> ProtocolError:
    return ProtocolError(
        RejectReason.TOPIC_MISMATCH,
        f"topic '{parsed_topic.kind.value}' carries only type "
        f"'{expected.model_fields['type'].default}'",
    )


def _diagnose(
    payload: bytes, expected: type[Envelope], parsed_topic: Topic, error: ValidationError
) -> ProtocolError:
    """The most useful reason for a payload the validator refused."""
    try:
        raw: Any = json.loads(payload)
    except UnicodeDecodeError:
        return ProtocolError(RejectReason.NOT_JSON, "payload is not UTF-8")
    except json.JSONDecodeError as exc:
        return ProtocolError(
            RejectReason.NOT_JSON, f"payload is not JSON ({exc.msg} at byte {exc.pos})"
        )
    if not isinstance(raw, dict):
        return ProtocolError(RejectReason.NOT_JSON, "payload is not a JSON object")
    version = raw.get("schema")
    if version != SCHEMA_VERSION:
        missing = " (field missing)" if version is None else ""
        return ProtocolError(
            RejectReason.BAD_VERSION, f"schema version must be {SCHEMA_VERSION}{missing}"
        )
    if raw.get("type") != expected.model_fields["type"].default:
        return _topic_mismatch(parsed_topic, expected)
    return ProtocolError(RejectReason.INVALID, describe_validation_error(error))


def encode(message: Envelope) -> bytes:
    """Serialise a message after checking it as strictly as `decode` would."""
    payload = message.model_dump_json(by_alias=True).encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            RejectReason.TOO_LARGE, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}"
        )
    try:
        _ADAPTER.validate_json(payload)
    except ValidationError as exc:
        raise ProtocolError(RejectReason.INVALID, describe_validation_error(exc)) from None
    return payload
