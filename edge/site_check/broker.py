"""`broker_tls`: a fresh MQTT connection over TLS with the kiosk's own certificate and key,
the broker verified against the fleet CA. Measured: TCP connect, TLS handshake and CONNACK.

Hand-written on purpose (three fixed MQTT 5 packets over a blocking TLS socket in a thread)
instead of aiomqtt: when the broker refuses the client certificate after the handshake (TLS
1.3), aiomqtt waits for a CONNACK without bound and the TLS alert shows only in paho's log.
Here every failure keeps its type and becomes a clear sentence.

Its own client id (`<kiosk>-check`): the agent's id would take over the agent's session.
Clean start, no will, no session kept: it connects, is acknowledged, disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time

from edge.site_check.items import at_most, failed
from edge.site_check.plan import BrokerTarget
from protocol.transport import client_tls_context
from protocol.v1 import SiteCheckItem
from protocol.v1.messages import SiteCheckName

NAME: SiteCheckName = "broker_tls"
KEEPALIVE_S = 30
DISCONNECT = b"\xe0\x00"
# MQTT 5 CONNACK reason codes a refused kiosk may see (OASIS MQTT 5.0, 3.2.2.2).
REASONS = {
    0x80: "unspecified error",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x9F: "connection rate exceeded",
}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def connect_packet(client_id: str) -> bytes:
    ident = client_id.encode()
    variable = (
        b"\x00\x04MQTT"  # protocol name
        + b"\x05"  # protocol level: MQTT 5
        + b"\x02"  # flags: clean start only
        + KEEPALIVE_S.to_bytes(2, "big")
        + b"\x00"  # no properties
    )
    body = variable + len(ident).to_bytes(2, "big") + ident
    return b"\x10" + _varint(len(body)) + body


def _read_exactly(sock: ssl.SSLSocket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def read_connack(sock: ssl.SSLSocket) -> int:
    """The CONNACK's reason code (0: accepted)."""
    first = _read_exactly(sock, 1)
    if first[0] != 0x20:
        raise ConnectionError(f"the broker answered packet type {first[0] >> 4}, not CONNACK")
    length, shift = 0, 0
    while True:
        byte = _read_exactly(sock, 1)[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = _read_exactly(sock, length)
    if len(body) < 2:
        raise ConnectionError("the broker sent a truncated CONNACK")
    return body[1]


def connect_once(
    target: BrokerTarget, context: ssl.SSLContext, timeout_s: float
) -> tuple[float, int]:
    """Blocking (run in a thread): milliseconds to CONNACK, and its reason code."""
    started = time.perf_counter()
    with (
        socket.create_connection((target.host, target.port), timeout=timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=target.host) as sock,
    ):
        # If the broker already hung up, the read below reports its TLS alert (the reason).
        with contextlib.suppress(ssl.SSLEOFError):
            sock.sendall(connect_packet(f"{target.kiosk_id}-check"))
        code = read_connack(sock)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if code == 0:
            with contextlib.suppress(OSError):
                sock.sendall(DISCONNECT)
    return elapsed_ms, code


def describe_failure(exc: BaseException, target: BrokerTarget) -> str:
    """What went wrong, in words a technician can act on."""
    where = f"{target.host}:{target.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker's certificate did not verify against the fleet CA ({exc.verify_message})"
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or type(exc).__name__
        upper = reason.upper()
        if "REVOKED" in upper:
            return f"the broker refused this kiosk's certificate as revoked ({reason})"
        if "UNKNOWN_CA" in upper or "BAD_CERTIFICATE" in upper or "UNSUPPORTED_CERT" in upper:
            return f"the broker refused this kiosk's certificate ({reason})"
        return f"TLS with the broker at {where} failed ({reason})"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing accepts connections at {where} (connection refused)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the broker's name {target.host!r}"
    if isinstance(exc, (EOFError, ConnectionResetError, BrokenPipeError)):
        return f"the broker at {where} closed the connection before accepting it"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return f"no answer from {where} within the time allowed"
    return f"cannot connect to {where}: {exc or type(exc).__name__}"


async def check_broker_tls(
    target: BrokerTarget, *, limit_ms: float, timeout_s: float
) -> SiteCheckItem:
    try:
        context = client_tls_context(target.ca_file, target.cert_file, target.key_file)
    except (OSError, ssl.SSLError) as exc:
        return failed(
            NAME,
            f"the kiosk's certificate, key or CA file cannot be loaded ({exc})",
            unit="ms",
            limit=limit_ms,
        )
    try:
        # A blocking socket in a thread: with TLS 1.3 the broker's refusal of the client
        # certificate arrives after the handshake, and only a blocking read reports the TLS
        # alert itself (asyncio's transport turns it into a bare end of stream).
        elapsed_ms, code = await asyncio.to_thread(connect_once, target, context, timeout_s)
    except (OSError, ssl.SSLError, EOFError, ConnectionError) as exc:
        return failed(NAME, describe_failure(exc, target), unit="ms", limit=limit_ms)
    if code != 0:
        reason = REASONS.get(code, f"reason code 0x{code:02x}")
        return failed(
            NAME, f"the broker refused the connection: {reason}", unit="ms", limit=limit_ms
        )
    return at_most(
        NAME,
        elapsed_ms,
        limit_ms,
        "ms",
        f"TLS handshake and CONNACK from {target.host}:{target.port} as {target.kiosk_id}",
    )
