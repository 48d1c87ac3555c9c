"""Automatic certificate renewal: a kiosk enrolled with a short-lived certificate renews on
its own through the real control plane, reconnects to the real Mosquitto with the new pair
and loses none of the messages queued meanwhile; a refused renewal is retried and reported
as an event; a swap cut short by a crash is finished at the next start."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.enrollment.settings import EnrollmentSettings
from edge import renewal
from edge.agent import KioskAgent
from protocol.v1 import EventMessage, StateMessage, TopicKind, subscription
from protocol.v1.messages import KioskMessage
from provisioning.ca import FleetCA
from provisioning.kiosk_identity import KioskIdentity, enroll, make_csr
from tests.cloud.conftest import Cloud, serving, sqlite_cloud  # noqa: F401 - fixture
from tests.edge.helpers import edge_settings
from tests.mqtt_clients import client_for
from tests.servers import Broker

URL = "http://testserver"
# 8 minutes, plus the 5 minutes every certificate is backdated: renewal with 60 % left
# falls due about 12 seconds after issue.
CERT_DAYS = 480 / 86400
RENEW_WHEN_LEFT = 0.6


async def _enrolled(
    cloud: Cloud, broker: Broker, tmp_path: Path, kiosk_id: str
) -> tuple[KioskIdentity, FleetCA, str]:
    intermediate = broker.ca.create_intermediate(tmp_path / "intermediate")
    cloud.app.state.enrollment_settings = EnrollmentSettings(
        ca_dir=intermediate.directory, cert_days=CERT_DAYS
    )
    admin = await cloud.token(Role.ADMIN)
    created = await cloud.client.post(
        f"/api/kiosks/{kiosk_id}/enrollment", headers={"Authorization": f"Bearer {admin}"}
    )
    assert created.status_code == 201, created.text
    identity = await enroll(
        URL, created.json()["token"], kiosk_id, tmp_path / "identity", client=cloud.client
    )
    return identity, intermediate, admin


def _collect(into: list[KioskMessage]):  # type: ignore[no-untyped-def]
    async def read(client) -> None:  # type: ignore[no-untyped-def]
        from protocol.v1 import decode

        async for message in client.messages:
            _, parsed = decode(message.topic.value, bytes(message.payload))
            into.append(parsed)

    return read


async def _until(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Waits (generously: a shared machine) for `condition`; says what never happened."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_a_short_lived_certificate_renews_itself_and_keeps_publishing(
    sqlite_cloud: Cloud,  # noqa: F811
    broker: Broker,
    state_dir: Path,
    tmp_path: Path,
) -> None:
    kiosk_id = "renew-k1"
    identity, intermediate, _ = await _enrolled(sqlite_cloud, broker, tmp_path, kiosk_id)
    first = identity.certificate()
    first_key = identity.key_path.read_bytes()
    assert renewal.due_in(first, RENEW_WHEN_LEFT, dt.datetime.now(dt.UTC)) > 0  # not yet

    received: list[KioskMessage] = []
    async with serving(sqlite_cloud) as address, client_for(broker, "cloud.madoguchi") as cloud:
        for kind in (TopicKind.STATE, TopicKind.EVENT):
            await cloud.subscribe(subscription(kind, kiosk_id=kiosk_id), qos=1)
        reader = asyncio.create_task(_collect(received)(cloud))
        settings = edge_settings(
            broker,
            kiosk_id,
            state_dir,
            cert_file=identity.cert_path,
            key_file=identity.key_path,
            control_plane_url=f"http://{address}",
            renew_when_left=RENEW_WHEN_LEFT,
            telemetry_interval_s=60,
        )
        agent = KioskAgent(settings)
        assert agent.renewer is not None
        running = asyncio.create_task(agent.run())
        sent = 0
        try:
            await _until(lambda: agent.link.connected.is_set(), "the first connection")
            # Messages keep being queued while the renewal and the reconnect happen.
            while agent.renewer.renewals < 1 or agent.link.connections < 2 or sent < 20:
                agent.emit_event("config_applied", version=f"mark-{sent}")
                sent += 1
                await asyncio.sleep(0.2)
                if sent > 1000:
                    raise AssertionError("no renewal and reconnect after 1000 marks")
            marks = {f"mark-{n}" for n in range(sent)}

            def delivered() -> set[str]:
                return {
                    str(m.attributes.get("version"))
                    for m in received
                    if isinstance(m, EventMessage) and m.name == "config_applied"
                }

            await _until(lambda: marks <= delivered(), "every queued mark delivered")
        finally:
            agent.stop()
            await asyncio.wait_for(running, 15)
            reader.cancel()

    renewed = identity.certificate()
    assert renewed.serial_number != first.serial_number
    assert renewed.public_key() == identity.key().public_key()
    assert identity.key_path.read_bytes() != first_key
    renewed.verify_directly_issued_by(intermediate.certificate)
    chain = x509.load_pem_x509_certificates(identity.cert_path.read_bytes())
    assert chain[1] == intermediate.certificate  # the chain a TLS client presents
    for path in (identity.key_path, identity.cert_path):
        assert path.stat().st_mode & 0o777 == 0o600
    assert not list(identity.directory.glob(".*.new"))
    # A birth from a later connection: the kiosk came back with the new pair.
    births = [
        m for m in received if isinstance(m, StateMessage) and m.status == "online" and not m.will
    ]
    assert len({b.bd_seq for b in births}) >= 2
    assert not [m for m in received if isinstance(m, EventMessage) and m.name == "error"]
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        renews = list(
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "enrollment.renew"))
        )
    assert len(renews) == agent.renewer.renewals
    assert renews[0].detail["previous_serial"] == format(first.serial_number, "x")


async def test_a_refused_renewal_is_retried_and_reported(
    sqlite_cloud: Cloud,  # noqa: F811
    broker: Broker,
    state_dir: Path,
    tmp_path: Path,
) -> None:
    kiosk_id = "renew-k2"
    identity, _, admin = await _enrolled(sqlite_cloud, broker, tmp_path, kiosk_id)
    revoked = await sqlite_cloud.client.post(
        f"/api/kiosks/{kiosk_id}/revoke", headers={"Authorization": f"Bearer {admin}"}
    )
    assert revoked.status_code == 200
    before = (identity.cert_path.read_bytes(), identity.key_path.read_bytes())
    received: list[KioskMessage] = []
    async with serving(sqlite_cloud) as address, client_for(broker, "cloud.madoguchi") as cloud:
        await cloud.subscribe(subscription(TopicKind.EVENT, kiosk_id=kiosk_id), qos=1)
        reader = asyncio.create_task(_collect(received)(cloud))
        agent = KioskAgent(
            edge_settings(
                broker,
                kiosk_id,
                state_dir,
                cert_file=identity.cert_path,
                key_file=identity.key_path,
                control_plane_url=f"http://{address}",
                renew_when_left=0.99,  # due at once
                renew_retry_min_s=0.2,
                renew_retry_max_s=0.5,
                telemetry_interval_s=60,
            )
        )
        running = asyncio.create_task(agent.run())

        def reports() -> list[EventMessage]:
            return [
                m
                for m in received
                if isinstance(m, EventMessage)
                and m.name == "error"
                and m.attributes.get("operation") == "certificate_renewal"
            ]

        try:
            await _until(lambda: len(reports()) >= 2, "two failure reports")
        finally:
            agent.stop()
            await asyncio.wait_for(running, 15)
            reader.cancel()
    first, second = reports()[:2]
    assert first.severity == "warning"
    assert (first.attributes["attempt"], second.attributes["attempt"]) == (1, 2)
    assert "revoked" in str(first.attributes["reason"])
    assert agent.renewer is not None and agent.renewer.renewals == 0
    # Nothing was installed: the kiosk keeps the pair it has.
    assert (identity.cert_path.read_bytes(), identity.key_path.read_bytes()) == before


def test_an_interrupted_swap_is_finished_or_dropped(tmp_path: Path) -> None:
    ca = FleetCA.create(tmp_path / "ca")
    issued = ca.issue_kiosk("renew-k3", tmp_path / "kiosk")
    cert_file, key_file = issued.cert_path, issued.key_path
    old_cert = cert_file.read_bytes()
    # The crash came after the key was renamed in, before the certificate.
    key, csr = make_csr("renew-k3")
    new_cert = ca.sign_client_csr(
        x509.load_pem_x509_csr(csr.encode()), common_name="renew-k3", days=1
    )
    renewal.install(
        cert_file, key_file, key, new_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    cert_file.write_bytes(old_cert)
    pending = cert_file.with_name(f".{cert_file.name}.new")
    pending.write_bytes(new_cert.public_bytes(serialization.Encoding.PEM))
    assert renewal.recover(cert_file, key_file)
    assert renewal.current_certificate(cert_file) == new_cert and not pending.exists()
    # A pending certificate for another key is thrown away; the pair in place stays.
    pending.write_bytes(old_cert)
    assert not renewal.recover(cert_file, key_file)
    assert renewal.current_certificate(cert_file) == new_cert and not pending.exists()
    assert not renewal.recover(cert_file, key_file)  # nothing pending


def test_renewal_falls_due_with_the_fraction_of_lifetime_left() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    class Cert:
        not_valid_before_utc = now - dt.timedelta(days=60)
        not_valid_after_utc = now + dt.timedelta(days=30)

    # 90 days' lifetime, a third is 30 days: due exactly now; a day later, overdue.
    assert renewal.due_in(Cert(), 1 / 3, now) == 0  # type: ignore[arg-type]
    assert renewal.due_in(Cert(), 1 / 3, now + dt.timedelta(days=1)) == -86400  # type: ignore[arg-type]
    assert renewal.due_in(Cert(), 0.25, now) == pytest.approx(7.5 * 86400)  # type: ignore[arg-type]
