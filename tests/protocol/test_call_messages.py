"""Call signaling and data-channel messages: each action carries what it needs, travels only
in its direction, and a bad one is refused with a reason that names no value."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from protocol.errors import ProtocolError, RejectReason
from protocol.v1 import TopicKind, decode, topic
from protocol.v1.datachannel import OPERATOR_ACTION, ShowReferral

CALL_ID = str(uuid.uuid4())


def call(action: str, **fields: object) -> bytes:
    return json.dumps(
        {
            "schema": 1,
            "type": "call",
            "kiosk_id": "city-hall-01",
            "sent_at": "2026-11-25T01:00:00Z",
            "seq": 3,
            "call_id": CALL_ID,
            "action": action,
            **fields,
        }
    ).encode()


UP = topic("city-hall-01", TopicKind.CALL_UP)
DOWN = topic("city-hall-01", TopicKind.CALL_DOWN)


def test_a_request_carries_the_consent_versions() -> None:
    _, message = decode(UP, call("request", terms_version="2026-04", privacy_version="2026-04"))
    assert message.action == "request" and message.terms_version == "2026-04"  # type: ignore[union-attr]
    with pytest.raises(ProtocolError) as refused:
        decode(UP, call("request"))
    assert refused.value.reason is RejectReason.INVALID
    assert "terms_version" in refused.value.detail


@pytest.mark.parametrize(
    ("where", "action", "fields", "missing"),
    [
        (UP, "offer", {}, "sdp"),
        (DOWN, "answer", {}, "sdp"),
        (DOWN, "assigned", {}, "operator_display_name"),
        (DOWN, "queued", {}, "queue_position"),
        (DOWN, "ended", {}, "reason"),
    ],
)
def test_each_action_needs_its_fields(
    where: str, action: str, fields: dict[str, object], missing: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode(where, call(action, **fields))
    assert refused.value.reason is RejectReason.INVALID and missing in refused.value.detail


@pytest.mark.parametrize(
    ("where", "action", "fields"),
    [
        (UP, "assigned", {"operator_display_name": "山田"}),  # a kiosk cannot assign itself
        (UP, "answer", {"sdp": "v=0"}),
        (DOWN, "request", {"terms_version": "1", "privacy_version": "1"}),
        (DOWN, "offer", {"sdp": "v=0"}),
    ],
)
def test_actions_travel_only_in_their_direction(
    where: str, action: str, fields: dict[str, object]
) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode(where, call(action, **fields))
    assert refused.value.reason is RejectReason.TOPIC_MISMATCH


def test_ice_servers_and_sdp_are_bounded_and_checked() -> None:
    ok = call(
        "assigned",
        operator_display_name="山田 花子",
        ice_servers=[{"urls": ["turns:turn.example.jp:5349"], "username": "u", "credential": "c"}],
    )
    _, message = decode(DOWN, ok)
    assert message.ice_servers[0].urls == ("turns:turn.example.jp:5349",)  # type: ignore[union-attr]
    with pytest.raises(ProtocolError):
        decode(
            DOWN, call("assigned", operator_display_name="x", ice_servers=[{"urls": ["http://x"]}])
        )
    with pytest.raises(ProtocolError) as refused:
        decode(UP, call("offer", sdp="v" * 40_000))
    assert refused.value.reason is RejectReason.INVALID
    assert "vvvv" not in refused.value.detail  # the payload is never echoed


def test_data_channel_actions_are_closed() -> None:
    action = OPERATOR_ACTION.validate_json('{"type": "show_referral", "counter": "pension"}')
    assert action == ShowReferral(counter="pension")
    for bad in (
        '{"type": "show_referral", "counter": "anywhere"}',
        '{"type": "type_text", "text": "1234"}',  # no remote typing
        '{"type": "clear_screen", "extra": 1}',
    ):
        with pytest.raises(ValidationError):
            OPERATOR_ACTION.validate_json(bad)
