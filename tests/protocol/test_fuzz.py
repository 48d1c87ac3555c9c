"""Property-based fuzzing of every parser that takes bytes from outside: whatever arrives,
the answer is a message or a clear refusal — never a crash, never a payload value echoed."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cloud.routing.signaling import CONSOLE_MESSAGE, GUEST_MESSAGE
from protocol.errors import ProtocolError
from protocol.v1 import TopicKind, decode, topic
from protocol.v1.datachannel import OPERATOR_ACTION

TOPICS = [topic("city-hall-01", kind) for kind in TopicKind]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
FIELDS = [
    "schema",
    "type",
    "kiosk_id",
    "sent_at",
    "seq",
    "call_id",
    "action",
    "sdp",
    "status",
    "bd_seq",
    "command_id",
    "name",
    "args",
    "host",
    "lines",
    "jpeg_base64",
]
MESSAGE_LIKE = st.fixed_dictionaries(
    {"schema": st.sampled_from([1, 2, "1"]), "kiosk_id": st.sampled_from(["city-hall-01", "x"])},
    optional={name: JSON_VALUES for name in FIELDS if name not in ("schema", "kiosk_id")},
)
SECRET = "4111111111111111"  # recognisable: must never come back in an error


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(topic_name=st.sampled_from(TOPICS) | st.text(max_size=60), payload=st.binary(max_size=300))
def test_decode_refuses_any_bytes_cleanly(topic_name: str, payload: bytes) -> None:
    try:
        decode(topic_name, payload)
    except ProtocolError as exc:
        assert exc.reason is not None and exc.detail


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(topic_name=st.sampled_from(TOPICS), body=MESSAGE_LIKE)
def test_decode_of_message_like_json_never_crashes_or_echoes(
    topic_name: str, body: dict[str, object]
) -> None:
    body = {**body, "sdp": SECRET} if "sdp" in body else body
    try:
        decode(topic_name, json.dumps(body).encode())
    except ProtocolError as exc:
        assert SECRET not in exc.detail


@settings(max_examples=300)
@given(
    body=st.dictionaries(
        st.sampled_from(
            ["type", "call_id", "sdp", "status", "procedure", "outcome", "reason", "counter"]
        ),
        JSON_VALUES,
    )
)
def test_socket_and_data_channel_messages_refuse_cleanly(body: dict[str, object]) -> None:
    text = json.dumps(body)
    for adapter in (CONSOLE_MESSAGE, GUEST_MESSAGE, OPERATOR_ACTION):
        with contextlib.suppress(ValidationError):  # a refusal; anything else fails
            adapter.validate_json(text)
