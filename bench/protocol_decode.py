"""How much strict validation costs: `protocol.v1.decode` against plain `json.loads`.

The peer is the least a consumer could do with the same bytes (parse JSON, read fields);
the ratio says what the strict contract (version, topic, types, ranges) costs per message.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from protocol.v1 import HostHealth, TelemetryMessage, TopicKind, decode, encode, topic


@dataclass(frozen=True)
class Result:
    messages: int
    decode_per_s: float
    json_loads_per_s: float

    @property
    def ratio(self) -> float:
        return self.decode_per_s / self.json_loads_per_s

    def report(self) -> str:
        return (
            f"protocol decode: {self.decode_per_s:,.0f} msg/s; json.loads peer: "
            f"{self.json_loads_per_s:,.0f} msg/s; ratio {self.ratio:.2f}x "
            f"({self.messages} telemetry messages, best of 5)"
        )


def _payloads(count: int) -> list[bytes]:
    now = datetime.now(UTC)
    host = HostHealth(
        cpu_percent=12.5,
        memory_percent=40.0,
        memory_used_bytes=1 << 30,
        disk_percent=50.0,
        disk_free_bytes=1 << 34,
        uptime_s=3600.0,
        load_1m=0.4,
        temperature_c=48.0,
    )
    return [
        encode(
            TelemetryMessage(
                kiosk_id="city-hall-01", sent_at=now, seq=i, interval_s=10.0, host=host
            )
        )
        for i in range(count)
    ]


def _best_rate(fn: object, payloads: list[bytes], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(payloads)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return len(payloads) / best


def run(messages: int = 20_000) -> Result:
    payloads = _payloads(messages)
    name = topic("city-hall-01", TopicKind.TELEMETRY)

    def strict(batch: list[bytes]) -> None:
        for payload in batch:
            decode(name, payload)

    def peer(batch: list[bytes]) -> None:
        for payload in batch:
            raw = json.loads(payload)
            _ = raw["kiosk_id"], raw["seq"], raw["host"]["cpu_percent"]

    return Result(messages, _best_rate(strict, payloads), _best_rate(peer, payloads))
