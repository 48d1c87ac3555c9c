"""The wire contract: exact bytes, strict validation, clear errors without payload values."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from protocol.errors import ProtocolError, RejectReason
from protocol.v1 import (
    MAX_PAYLOAD_BYTES,
    CommandMessage,
    EventMessage,
    StateMessage,
    TelemetryMessage,
    TopicKind,
    decode,
    encode,
    parse_topic,
    subscription,
    topic,
)

SENT_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _telemetry(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "schema": 1,
        "type": "telemetry",
        "kiosk_id": "city-hall-01",
        "sent_at": "2026-11-24T09:30:00Z",
        "seq": 7,
        "interval_s": 10.0,
        "host": {
            "cpu_percent": 12.5,
            "memory_percent": 40.0,
            "memory_used_bytes": 1024,
            "disk_percent": 55.0,
            "disk_free_bytes": 2048,
            "uptime_s": 3600.0,
        },
    }
    payload.update(overrides)
    return payload


TELEMETRY_TOPIC = "madoguchi/v1/kiosk/city-hall-01/telemetry"


def _reason(topic_name: str, payload: bytes) -> RejectReason:
    with pytest.raises(ProtocolError) as caught:
        decode(topic_name, payload)
    return caught.value.reason


def test_state_message_bytes_on_the_wire_are_exact() -> None:
    birth = StateMessage(
        kiosk_id="city-hall-01",
        sent_at=SENT_AT,
        seq=1,
        status="online",
        bd_seq=42,
        site_id="city-hall",
        agent_version="0.1.0",
        os_version="Debian GNU/Linux 12 (bookworm)",
    )
    assert encode(birth) == (
        b'{"schema":1,"kiosk_id":"city-hall-01","sent_at":"2026-11-24T09:30:00Z","seq":1,'
        b'"type":"state","status":"online","bd_seq":42,"will":false,"site_id":"city-hall",'
        b'"agent_version":"0.1.0","os_version":"Debian GNU/Linux 12 (bookworm)","peripherals":[]}'
    )


def test_round_trip_of_every_kind_keeps_the_message() -> None:
    telemetry = TelemetryMessage.model_validate_json(json.dumps(_telemetry()))
    command = CommandMessage(
        kiosk_id="city-hall-01",
        sent_at=SENT_AT,
        seq=3,
        command_id=uuid.uuid4(),
        name="self_test",
        issued_by="tech-1",
        expires_at=SENT_AT + timedelta(minutes=5),
    )
    event = EventMessage(
        kiosk_id="city-hall-01",
        sent_at=SENT_AT,
        seq=4,
        name="card_inserted",
        peripheral="card_reader",
    )
    for message, kind in (
        (telemetry, TopicKind.TELEMETRY),
        (command, TopicKind.COMMAND),
        (event, TopicKind.EVENT),
    ):
        parsed_topic, decoded = decode(topic("city-hall-01", kind), encode(message))
        assert decoded == message
        assert parsed_topic.kind is kind


def test_unknown_field_is_rejected_and_named() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(TELEMETRY_TOPIC, json.dumps(_telemetry(card_number="1234")).encode())
    assert caught.value.reason is RejectReason.INVALID
    assert "card_number" in caught.value.detail
    assert "1234" not in str(caught.value)  # values never echoed: they may be personal


def test_wrong_types_are_not_coerced() -> None:
    assert (
        _reason(TELEMETRY_TOPIC, json.dumps(_telemetry(seq="7")).encode()) is RejectReason.INVALID
    )
    assert (
        _reason(TELEMETRY_TOPIC, json.dumps(_telemetry(seq=7.5)).encode()) is RejectReason.INVALID
    )
    naive = json.dumps(_telemetry(sent_at="2026-11-24T09:30:00")).encode()
    assert _reason(TELEMETRY_TOPIC, naive) is RejectReason.INVALID


def test_wrong_or_missing_version_is_rejected() -> None:
    assert (
        _reason(TELEMETRY_TOPIC, json.dumps(_telemetry(schema=2)).encode())
        is RejectReason.BAD_VERSION
    )
    missing = _telemetry()
    del missing["schema"]
    with pytest.raises(ProtocolError) as caught:
        decode(TELEMETRY_TOPIC, json.dumps(missing).encode())
    assert caught.value.reason is RejectReason.BAD_VERSION
    assert "missing" in caught.value.detail


def test_oversized_payload_is_rejected_before_parsing() -> None:
    huge = b'{"schema":1,' + b" " * MAX_PAYLOAD_BYTES + b"}"
    assert _reason(TELEMETRY_TOPIC, huge) is RejectReason.TOO_LARGE


def test_kiosk_id_must_match_the_topic() -> None:
    spoofed = json.dumps(_telemetry(kiosk_id="city-hall-02")).encode()
    assert _reason(TELEMETRY_TOPIC, spoofed) is RejectReason.KIOSK_MISMATCH


def test_type_must_match_the_topic() -> None:
    as_event_topic = "madoguchi/v1/kiosk/city-hall-01/event"
    assert _reason(as_event_topic, json.dumps(_telemetry()).encode()) is RejectReason.TOPIC_MISMATCH


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", RejectReason.NOT_JSON),
        (b"{not json", RejectReason.NOT_JSON),
        (b"[1, 2]", RejectReason.NOT_JSON),
        (b"", RejectReason.NOT_JSON),
    ],
)
def test_malformed_payloads_have_a_reason(payload: bytes, reason: RejectReason) -> None:
    assert _reason(TELEMETRY_TOPIC, payload) is reason


def test_out_of_range_values_are_rejected() -> None:
    bad = _telemetry(host={**_telemetry()["host"], "cpu_percent": 140.0})  # type: ignore[dict-item]
    with pytest.raises(ProtocolError) as caught:
        decode(TELEMETRY_TOPIC, json.dumps(bad).encode())
    assert "host.cpu_percent" in caught.value.detail


@pytest.mark.parametrize(
    "name",
    [
        "madoguchi/v2/kiosk/k1/state",
        "madoguchi/v1/kiosk/K1/state",
        "madoguchi/v1/kiosk/k1/unknown",
        "madoguchi/v1/kiosk/k1",
        "madoguchi/v1/kiosk/+/state",
        "other/topic",
    ],
)
def test_topics_outside_the_scheme_are_refused(name: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_topic(name)
    assert caught.value.reason is RejectReason.UNKNOWN_TOPIC


def test_topic_builders_and_parser_agree() -> None:
    for kind in TopicKind:
        built = topic("k-1", kind)
        assert parse_topic(built).kiosk_id == "k-1"
        assert parse_topic(built).kind is kind
    assert subscription(TopicKind.TELEMETRY, shared_group="cloud") == (
        "$share/cloud/madoguchi/v1/kiosk/+/telemetry"
    )
    with pytest.raises(ProtocolError):
        topic("k1/#", TopicKind.STATE)


def test_encode_refuses_what_decode_would_refuse() -> None:
    event = EventMessage.model_construct(  # bypasses validation, as a careless sender might
        schema_version=1,
        kiosk_id="k1",
        sent_at=SENT_AT,
        seq=1,
        type="event",
        name="not-an-event",
        severity="info",
        peripheral=None,
        attributes={},
    )
    with pytest.raises(ProtocolError) as caught:
        encode(event)
    assert caught.value.reason is RejectReason.INVALID


def test_event_attributes_are_bounded() -> None:
    with pytest.raises(ValueError, match="attributes"):
        EventMessage(
            kiosk_id="k1",
            sent_at=SENT_AT,
            seq=1,
            name="error",
            attributes={f"k{i}": i for i in range(33)},
        )
    with pytest.raises(ValueError, match="attributes"):
        EventMessage(
            kiosk_id="k1", sent_at=SENT_AT, seq=1, name="error", attributes={"detail": "x" * 201}
        )
