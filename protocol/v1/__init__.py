"""Version 1 of the kiosk <-> cloud contract."""

from protocol.v1.codec import MAX_PAYLOAD_BYTES, decode, encode
from protocol.v1.messages import (
    SCHEMA_VERSION,
    CallMessage,
    CommandMessage,
    CommandResultMessage,
    ConfigMessage,
    EventMessage,
    HostHealth,
    IceServer,
    KioskConfig,
    KioskMessage,
    LogBundleMessage,
    NetworkHealth,
    Peripheral,
    StateMessage,
    TelemetryMessage,
)
from protocol.v1.topics import TOPIC_PREFIX, Topic, TopicKind, parse_topic, subscription, topic

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "TOPIC_PREFIX",
    "CallMessage",
    "CommandMessage",
    "CommandResultMessage",
    "ConfigMessage",
    "EventMessage",
    "HostHealth",
    "IceServer",
    "KioskConfig",
    "KioskMessage",
    "LogBundleMessage",
    "NetworkHealth",
    "Peripheral",
    "StateMessage",
    "TelemetryMessage",
    "Topic",
    "TopicKind",
    "decode",
    "encode",
    "parse_topic",
    "subscription",
    "topic",
]
