"""Helpers for tests that run the agent against the real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from edge.settings import EdgeSettings
from protocol.v1 import decode
from protocol.v1.messages import KioskMessage
from tests.servers import Broker


def edge_settings(
    broker: Broker, kiosk_id: str, state_dir: Path, **overrides: object
) -> EdgeSettings:
    cert, key = broker.kiosk_cert(kiosk_id)
    values: dict[str, object] = {
        "kiosk_id": kiosk_id,
        "site_id": "city-hall",
        "broker_host": broker.host,
        "broker_port": broker.port,
        "ca_file": broker.ca_file,
        "cert_file": cert,
        "key_file": key,
        "keepalive_s": 2,
        "telemetry_interval_s": 0.2,
        "state_dir": state_dir,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 1.0,
        "clock_sync_wait_s": 0,
        "calls": False,  # the call tests turn it on (with a free port)
        # Never the machine's own reboot: a marker the tests can check.
        "reboot_command": ("touch", str(state_dir / "rebooted")),
    }
    values.update(overrides)
    return EdgeSettings(**values)  # type: ignore[arg-type]


def edge_environment(settings: EdgeSettings) -> dict[str, str]:
    """The settings as the environment variables `madoguchi edge run` reads."""
    return {
        f"MADOGUCHI_EDGE_{name.upper()}": json.dumps(value)
        if isinstance(value, list)
        else str(value)
        for name, value in settings.model_dump(mode="json").items()
        if value is not None  # unset: the default (None) applies
    }


async def wait_for_message(
    client: aiomqtt.Client,
    predicate: Callable[[KioskMessage], bool],
    *,
    timeout: float = 10.0,
) -> KioskMessage:
    """The first message from the real broker that decodes and satisfies `predicate`."""
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            _, parsed = decode(message.topic.value, bytes(message.payload))  # type: ignore[arg-type]
            if predicate(parsed):
                return parsed
    raise AssertionError("message stream ended")
