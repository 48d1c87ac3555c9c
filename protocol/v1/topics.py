"""The topic scheme: `madoguchi/v1/kiosk/{kiosk_id}/{kind}`.

Calls get one topic per direction (`call/up`, `call/down`) so the broker ACL can let a kiosk
write only what a kiosk may say.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import ProtocolError, RejectReason
from protocol.v1.ids import is_valid_id

TOPIC_PREFIX = "madoguchi/v1/kiosk"


class TopicKind(StrEnum):
    STATE = "state"
    TELEMETRY = "telemetry"
    EVENT = "event"
    COMMAND = "cmd"
    COMMAND_RESULT = "cmd/result"
    CONFIG = "config"
    CALL_UP = "call/up"
    CALL_DOWN = "call/down"
    LOGS = "logs"
    SCREENSHOT = "screenshot"
    SITE_CHECK = "site_check"


# Who publishes on each kind; the broker ACL is generated from these two sets.
KIOSK_PUBLISHES: frozenset[TopicKind] = frozenset(
    {
        TopicKind.STATE,
        TopicKind.TELEMETRY,
        TopicKind.EVENT,
        TopicKind.COMMAND_RESULT,
        TopicKind.CALL_UP,
        TopicKind.LOGS,
        TopicKind.SCREENSHOT,
        TopicKind.SITE_CHECK,
    }
)
CLOUD_PUBLISHES: frozenset[TopicKind] = frozenset(
    {TopicKind.COMMAND, TopicKind.CONFIG, TopicKind.CALL_DOWN}
)
# Kinds the broker keeps as retained messages.
RETAINED: frozenset[TopicKind] = frozenset({TopicKind.STATE, TopicKind.CONFIG})


@dataclass(frozen=True, slots=True)
class Topic:
    kiosk_id: str
    kind: TopicKind

    def __str__(self) -> str:
        return f"{TOPIC_PREFIX}/{self.kiosk_id}/{self.kind.value}"


def topic(kiosk_id: str, kind: TopicKind) -> str:
    """Build the topic string for one kiosk and kind, refusing ids that are not ids."""
    if not is_valid_id(kiosk_id):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "kiosk id is not a valid id")
    return str(Topic(kiosk_id, kind))


def parse_topic(value: str) -> Topic:
    """Parse a concrete topic (no wildcards) into kiosk id and kind."""
    prefix = TOPIC_PREFIX + "/"
    if not value.startswith(prefix):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, f"topic is outside {TOPIC_PREFIX}/")
    kiosk_id, sep, rest = value[len(prefix) :].partition("/")
    if not sep or not is_valid_id(kiosk_id):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "topic has no valid kiosk id")
    try:
        kind = TopicKind(rest)
    except ValueError:
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "topic kind is not known") from None
    return Topic(kiosk_id, kind)


def subscription(kind: TopicKind, *, kiosk_id: str = "+", shared_group: str | None = None) -> str:
    """A subscription filter for `kind` on one kiosk or all (`+`), optionally MQTT 5 shared."""
    if kiosk_id != "+" and not is_valid_id(kiosk_id):
        raise ProtocolError(RejectReason.UNKNOWN_TOPIC, "kiosk id is not a valid id")
    base = f"{TOPIC_PREFIX}/{kiosk_id}/{kind.value}"
    return f"$share/{shared_group}/{base}" if shared_group else base
