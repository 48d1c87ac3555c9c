"""The peer of the fleet benchmark: a bare paho-mqtt subscriber that only drains telemetry
from the same broker (no decoding, no database, no time series), counting messages.

Run as a process of its own: `python -m bench.raw_subscriber HOST PORT CA CERT KEY SECONDS`.
Prints `{"received": N}` when SECONDS have passed since its first message.
"""

from __future__ import annotations

import json
import ssl
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol.v1 import TopicKind, subscription


def main() -> None:
    host, port, ca, cert, key, seconds = sys.argv[1:7]
    received = 0
    first: float | None = None
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-raw-peer", protocol=mqtt.MQTTv5
    )
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    client.tls_set_context(context)

    def on_connect(c, _userdata, _flags, _reason, _properties):  # type: ignore[no-untyped-def]
        c.subscribe(subscription(TopicKind.TELEMETRY), qos=1)

    def on_message(_c, _userdata, _message):  # type: ignore[no-untyped-def]
        nonlocal received, first
        received += 1
        if first is None:
            first = time.monotonic()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port), keepalive=60)
    print("ready", flush=True)
    deadline = None
    while deadline is None or time.monotonic() < deadline:
        client.loop(timeout=0.1)
        if first is not None and deadline is None:
            deadline = first + float(seconds)
    client.disconnect()
    print(json.dumps({"received": received}), flush=True)


if __name__ == "__main__":
    main()
