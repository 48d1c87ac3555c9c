"""How every party connects: MQTT 5 over TLS 1.2+ with a client certificate from the fleet
CA. Standard library only; shared by the kiosk agent, the control plane and the tests."""

from __future__ import annotations

import ssl
from pathlib import Path


def client_tls_context(ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """Verify the broker against the fleet CA and present our own certificate."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def payload_bytes(payload: bytes | bytearray | str | int | float | None) -> bytes:
    """aiomqtt types payloads loosely; on the wire they are always bytes."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()
