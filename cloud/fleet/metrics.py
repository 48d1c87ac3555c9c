"""Counters of the MQTT consumer, in the app's own Prometheus registry (not the global one,
so two apps in one process — tests, the demo — never mix their numbers)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "madoguchi_mqtt_messages",
            "MQTT messages received, by topic kind",
            ["kind"],
            registry=registry,
        )
        self.rejected = Counter(
            "madoguchi_mqtt_messages_rejected",
            "MQTT messages refused by the contract",
            ["reason"],
            registry=registry,
        )
        self.handler_errors = Counter(
            "madoguchi_mqtt_handler_errors",
            "Valid messages whose handling failed",
            ["kind"],
            registry=registry,
        )
        self.stale_states = Counter(
            "madoguchi_stale_states_ignored",
            "Offline states from older connections",
            registry=registry,
        )
        self.connected = Gauge(
            "madoguchi_mqtt_connected",
            "1 while the consumer is connected to the broker",
            registry=registry,
        )
