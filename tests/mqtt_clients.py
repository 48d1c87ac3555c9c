"""aiomqtt clients with a fleet certificate, for tests that talk to the real broker."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiomqtt

from protocol.transport import client_tls_context
from tests.servers import Broker


def tls_context(ca_file: Path, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    if cert is None:  # a client without a certificate, to see it refused
        return ssl.create_default_context(cafile=str(ca_file))
    return client_tls_context(ca_file, *cert)


def client_for(
    broker: Broker, identity: str | None, *, client_id: str | None = None, **kwargs: object
) -> aiomqtt.Client:
    """A client presenting `identity`'s certificate (`cloud.madoguchi`, a kiosk id, or None)."""
    cert = None
    if identity == "cloud.madoguchi":
        cert = broker.cloud_cert
    elif identity is not None:
        cert = broker.kiosk_cert(identity)
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(broker.ca_file, cert),
        **kwargs,  # type: ignore[arg-type]
    )


class PubackRecorder:
    """Records the reason code of every PUBACK a client receives (aiomqtt drops them)."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.reason_codes: list[int] = []
        paho = client._client
        original = paho.on_publish

        def on_publish(paho_client, userdata, mid, reason_code, properties):  # type: ignore[no-untyped-def]
            self.reason_codes.append(int(reason_code.value))
            original(paho_client, userdata, mid, reason_code, properties)

        paho.on_publish = on_publish
