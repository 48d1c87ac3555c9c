"""Kiosk enrollment, renewal and revocation: the control plane's API (SQLite and PostgreSQL),
the kiosk's side, and a real Mosquitto that refuses a revoked kiosk at the TLS handshake."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update
from typer.testing import CliRunner

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.enrollment.models import EnrollmentToken, KioskCertificate
from cloud.enrollment.settings import EnrollmentSettings
from madoguchi.cli import app as cli
from madoguchi.mosquitto import MosquittoProcess
from protocol.v1 import TopicKind, topic
from provisioning.ca import FleetCA
from provisioning.enrollment import sign_renewal
from provisioning.kiosk_identity import (
    EnrollFailedError,
    KioskIdentity,
    enroll,
    make_csr,
    needs_renewal,
    renew,
)
from tests.cloud.conftest import Cloud, cloud, database_url, serving, sqlite_cloud  # noqa: F401
from tests.mqtt_clients import tls_context
from tests.servers import start_crl_broker

URL = "http://testserver"


def _pki(tmp_path: Path) -> tuple[FleetCA, FleetCA]:
    root = FleetCA.create(tmp_path / "root")
    return root, root.create_intermediate(tmp_path / "intermediate")


def _configure(app_cloud: Cloud, tmp_path: Path, **extra: object) -> tuple[FleetCA, FleetCA]:
    root, intermediate = _pki(tmp_path)
    app_cloud.app.state.enrollment_settings = EnrollmentSettings(
        ca_dir=intermediate.directory, crl_file=tmp_path / "crl.pem", **extra
    )
    return root, intermediate


async def _token(app_cloud: Cloud, kiosk_id: str, admin: str | None = None) -> str:
    admin = admin or await app_cloud.token(Role.ADMIN)
    response = await app_cloud.client.post(
        f"/api/kiosks/{kiosk_id}/enrollment", headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def _audit(app_cloud: Cloud, target: str) -> list[str]:
    async with transaction(app_cloud.app.state.sessions) as db:
        rows = await db.scalars(
            select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id)
        )
        return [row.action for row in rows]


async def test_enroll_once_and_chain_to_the_root(cloud: Cloud, tmp_path: Path) -> None:  # noqa: F811
    root, intermediate = _configure(cloud, tmp_path)
    token = await _token(cloud, "enr-k1")
    out = tmp_path / "kiosk"
    identity = await enroll(URL, token, "enr-k1", out, client=cloud.client)

    assert (identity.key_path.stat().st_mode & 0o777) == 0o600
    leaf, chained = x509.load_pem_x509_certificates(identity.cert_path.read_bytes())
    assert chained == intermediate.certificate
    leaf.verify_directly_issued_by(intermediate.certificate)
    intermediate.certificate.verify_directly_issued_by(root.certificate)
    assert x509.load_pem_x509_certificate(identity.ca_path.read_bytes()) == root.certificate
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "enr-k1"
    assert leaf.public_key() == identity.key().public_key()  # the key made on the box

    # Single use: the same token again is refused, and only its hash was ever stored.
    with pytest.raises(EnrollFailedError, match="already been used"):
        await enroll(URL, token, "enr-k1", tmp_path / "again", client=cloud.client)
    async with transaction(cloud.app.state.sessions) as db:
        (row,) = await db.scalars(select(EnrollmentToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(row.__dict__)
        assert row.certificate_serial == format(leaf.serial_number, "x")
    assert await _audit(cloud, "kiosk:enr-k1") == ["enrollment.token", "enrollment.enroll"]


async def test_expired_wrong_kiosk_and_unknown_tokens(
    sqlite_cloud: Cloud,  # noqa: F811
    tmp_path: Path,
) -> None:
    _configure(sqlite_cloud, tmp_path)
    token = await _token(sqlite_cloud, "enr-k2")
    with pytest.raises(EnrollFailedError, match=r"403.*another kiosk"):
        await enroll(URL, token, "enr-k3", tmp_path / "a", client=sqlite_cloud.client)
    with pytest.raises(EnrollFailedError, match=r"403.*unknown"):
        await enroll(URL, "x" * 43, "enr-k2", tmp_path / "b", client=sqlite_cloud.client)
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        await db.execute(
            update(EnrollmentToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(EnrollFailedError, match=r"403.*expired"):
        await enroll(URL, token, "enr-k2", tmp_path / "c", client=sqlite_cloud.client)
    assert not (tmp_path / "a").exists()  # nothing written when refused


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cn: str) -> str:
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


async def test_bad_csrs_are_refused_without_using_the_token(
    sqlite_cloud: Cloud,  # noqa: F811
    tmp_path: Path,
) -> None:
    _configure(sqlite_cloud, tmp_path)
    token = await _token(sqlite_cloud, "enr-k4")
    key = ec.generate_private_key(ec.SECP256R1())
    good = _csr(key, "enr-k4")
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature's last integer
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    cases = {
        "common name": _csr(key, "enr-k5"),  # another kiosk's id
        "signature": tampered,
        "P-256": _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048), "enr-k4"),
        "PEM": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    }
    for why, csr in cases.items():
        response = await sqlite_cloud.client.post(
            "/api/enroll", json={"kiosk_id": "enr-k4", "token": token, "csr": csr}
        )
        assert response.status_code == 400, (why, response.text)
        assert why in response.json()["detail"]
    # The token still works, and the CSR's requested extensions were not honoured.
    response = await sqlite_cloud.client.post(
        "/api/enroll", json={"kiosk_id": "enr-k4", "token": token, "csr": good}
    )
    assert response.status_code == 201, response.text
    cert = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


async def test_renewal_with_the_current_key(sqlite_cloud: Cloud, tmp_path: Path) -> None:  # noqa: F811
    _, intermediate = _configure(sqlite_cloud, tmp_path)
    out = tmp_path / "kiosk"
    await enroll(
        URL, await _token(sqlite_cloud, "enr-k6"), "enr-k6", out, client=sqlite_cloud.client
    )
    old = KioskIdentity(out).certificate()
    old_key_pem = (out / "kiosk.key").read_bytes()
    assert not needs_renewal(old)
    assert needs_renewal(old, now=old.not_valid_after_utc - timedelta(days=1))

    renewed = await renew(URL, out, client=sqlite_cloud.client)
    new = renewed.certificate()
    assert new.serial_number != old.serial_number
    assert new.public_key() != old.public_key() and renewed.key_path.read_bytes() != old_key_pem
    assert (renewed.key_path.stat().st_mode & 0o777) == 0o600
    new.verify_directly_issued_by(intermediate.certificate)
    assert await _audit(sqlite_cloud, "kiosk:enr-k6") == [
        "enrollment.token",
        "enrollment.enroll",
        "enrollment.renew",
    ]

    # A renewal signed by another key, or too old, is refused.
    old_pem = old.public_bytes(serialization.Encoding.PEM).decode()
    _, csr = make_csr("enr-k6")
    now = datetime.now(UTC).isoformat()
    stranger = ec.generate_private_key(ec.SECP256R1())
    for signed_at, signer, why in (
        (now, stranger, "not signed"),
        ((datetime.now(UTC) - timedelta(hours=1)).isoformat(), renewed.key(), "too old"),
    ):
        response = await sqlite_cloud.client.post(
            "/api/enroll/renew",
            json={
                "certificate": new.public_bytes(serialization.Encoding.PEM).decode(),
                "csr": csr,
                "signed_at": signed_at,
                "signature": sign_renewal(signer, csr, signed_at),
            },
        )
        assert response.status_code == 403 and why in response.json()["detail"], response.text
    assert base64.b64decode(sign_renewal(stranger, csr, now))  # well-formed, just not theirs

    # After revocation, not even the newest certificate renews.
    admin = await sqlite_cloud.token(Role.ADMIN)
    response = await sqlite_cloud.client.post(
        "/api/kiosks/enr-k6/revoke", headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["revoked"]) == sorted(
        format(c.serial_number, "x") for c in (old, new)
    )
    with pytest.raises(EnrollFailedError, match="revoked"):
        await renew(URL, out, client=sqlite_cloud.client)
    assert old_pem  # the old certificate was never needed again


async def test_roles(sqlite_cloud: Cloud, tmp_path: Path) -> None:  # noqa: F811
    _configure(sqlite_cloud, tmp_path)
    sqlite_cloud.client.cookies.clear()
    tech = await sqlite_cloud.token(Role.TECH)
    sqlite_cloud.client.cookies.clear()
    for method, path in (
        ("POST", "/api/kiosks/enr-k7/enrollment"),
        ("POST", "/api/kiosks/enr-k7/revoke"),
        ("POST", "/api/kiosks/enr-k7/decommission"),
        ("POST", "/api/enrollment/crl"),
    ):
        anonymous = await sqlite_cloud.client.request(method, path)
        assert anonymous.status_code == 401
        as_tech = await sqlite_cloud.client.request(
            method, path, headers={"Authorization": f"Bearer {tech}"}
        )
        assert as_tech.status_code == 403, path
    listed = await sqlite_cloud.client.get(
        "/api/kiosks/enr-k7/certificates", headers={"Authorization": f"Bearer {tech}"}
    )
    assert listed.status_code == 200 and listed.json() == []


# --- The broker refuses a revoked kiosk ----------------------------------------------------


def _client(process: MosquittoProcess, identity: KioskIdentity) -> aiomqtt.Client:
    return aiomqtt.Client(
        "localhost",
        process.port,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(identity.ca_path, (identity.cert_path, identity.key_path)),
        timeout=3,
    )


async def _connects(process: MosquittoProcess, identity: KioskIdentity, kiosk_id: str) -> bool:
    try:
        async with _client(process, identity) as client:
            await client.publish(topic(kiosk_id, TopicKind.EVENT), b"{}", qos=1)
    except (aiomqtt.MqttError, ssl.SSLError, OSError):
        return False
    return True


async def test_revoked_kiosk_is_refused_at_the_handshake(
    sqlite_cloud: Cloud,  # noqa: F811
    tmp_path: Path,
) -> None:
    root, _ = _pki(tmp_path)
    crl_file = tmp_path / "broker-crl.pem"
    settings = EnrollmentSettings(ca_dir=tmp_path / "intermediate", crl_file=crl_file)
    sqlite_cloud.app.state.enrollment_settings = settings
    admin = await sqlite_cloud.token(Role.ADMIN)
    kiosks = {}
    for kiosk_id in ("enr-r1", "enr-r2"):
        token = await _token(sqlite_cloud, kiosk_id, admin)
        kiosks[kiosk_id] = await enroll(
            URL, token, kiosk_id, tmp_path / kiosk_id, client=sqlite_cloud.client
        )
    refreshed = await sqlite_cloud.client.post(
        "/api/enrollment/crl", headers={"Authorization": f"Bearer {admin}"}
    )
    assert refreshed.status_code == 200 and crl_file.exists()
    broker = start_crl_broker(root, tmp_path / "broker", crl_file)
    try:
        assert await _connects(broker, kiosks["enr-r1"], "enr-r1")
        assert await _connects(broker, kiosks["enr-r2"], "enr-r2")
        # The stolen kiosk keeps a session open while it is revoked.
        async with _client(broker, kiosks["enr-r1"]) as open_session:
            settings.broker_reload = ["kill", "-HUP", str(broker.pid)]
            async with serving(sqlite_cloud) as address:
                env = {"MADOGUCHI_URL": f"http://{address}", "MADOGUCHI_TOKEN": admin}
                result = await asyncio.to_thread(
                    CliRunner().invoke, cli, ["kiosks", "revoke", "enr-r1"], env=env
                )
            assert result.exit_code == 0, result.output
            assert "enr-r1: revoked" in result.output and "broker reload: done" in result.output
            await asyncio.sleep(0.5)
            # SIGHUP made Mosquitto read the CRL again: a new handshake is refused ...
            assert not await _connects(broker, kiosks["enr-r1"], "enr-r1")
            assert "certificate revoked" in broker.log_path.read_text() or (
                "certificate verify failed" in broker.log_path.read_text()
            )
            assert await _connects(broker, kiosks["enr-r2"], "enr-r2")
            # ... but an open session survives a reload (Mosquitto 2.0.11): only a restart
            # drops it, which is why production restarts the broker on revocation.
            await open_session.publish(topic("enr-r1", TopicKind.EVENT), b"{}", qos=1)
        broker.stop()
        broker.start()
        assert not await _connects(broker, kiosks["enr-r1"], "enr-r1")
        assert await _connects(broker, kiosks["enr-r2"], "enr-r2")
    finally:
        broker.stop()

    # Decommissioned: no new token, no enrollment.
    response = await sqlite_cloud.client.post(
        "/api/kiosks/enr-r1/decommission", headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 200 and response.json()["state"] == "decommissioned"
    response = await sqlite_cloud.client.post(
        "/api/kiosks/enr-r1/enrollment", headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 409
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        certs = list(await db.scalars(select(KioskCertificate)))
    assert {c.kiosk_id: c.revoked_at is not None for c in certs} == {
        "enr-r1": True,
        "enr-r2": False,
    }
    assert await _audit(sqlite_cloud, "kiosk:enr-r1") == [
        "enrollment.token",
        "enrollment.enroll",
        "enrollment.revoke",
        "enrollment.decommission",
    ]
    assert os.stat(crl_file).st_mode & 0o777 == 0o644
