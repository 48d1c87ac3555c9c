"""A peripheral that stops or starts working is announced once, as an event."""

from __future__ import annotations

import json
from pathlib import Path

from edge.agent import KioskAgent
from edge.peripherals.simulated import SimulatedPeripheral
from tests.edge.helpers import edge_settings
from tests.servers import Broker


async def test_card_reader_failure_and_recovery_are_events(broker: Broker, state_dir: Path) -> None:
    agent = KioskAgent(edge_settings(broker, "pev-k1", state_dir))
    reader = agent.peripherals.get("card_reader")
    assert isinstance(reader, SimulatedPeripheral)

    def events() -> list[dict[str, object]]:
        found = []
        while len(agent.outbox):
            item = agent.outbox._items.popleft()
            payload = json.loads(item.payload)
            if payload["type"] == "event":
                found.append(payload)
        return found

    await agent.telemetry()
    events()  # the first sample only sets the baseline (and agent events may be queued)
    await agent.telemetry()
    assert events() == []  # nothing changed
    reader.set_status("error")
    await agent.telemetry()
    await agent.telemetry()
    [down] = events()
    assert (down["name"], down["peripheral"], down["severity"]) == (
        "peripheral_disconnected",
        "card_reader",
        "error",
    )
    assert down["attributes"] == {"status": "error"}
    reader.set_status("absent")  # still not working: no new event
    await agent.telemetry()
    assert events() == []
    reader.set_status("ok")
    await agent.telemetry()
    [up] = events()
    assert (up["name"], up["peripheral"]) == ("peripheral_connected", "card_reader")
