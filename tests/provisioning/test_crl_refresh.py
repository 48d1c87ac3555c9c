"""The CRL is re-signed before its nextUpdate: with a CRL valid for seconds, the control
plane's background task keeps a real Mosquitto accepting the valid kiosk past the first
CRL's expiry, while the revoked kiosk stays refused. And without a fresh CRL the broker
refuses everyone (why the refresh exists)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.enrollment.crl_refresh import check_interval, next_update
from cloud.enrollment.settings import EnrollmentSettings
from cloud.settings import BrokerSettings, CloudSettings
from provisioning.enrollment import write_crl
from provisioning.kiosk_identity import enroll
from tests.cloud.conftest import Cloud, _running_cloud
from tests.provisioning.test_enrollment import URL, _connects, _pki, _token
from tests.servers import start_crl_broker

CRL_SECONDS = 20


@pytest.fixture
async def env_cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'crl.db'}",
        mqtt=BrokerSettings(enabled=False),
    )
    async for running in _running_cloud(settings):
        yield running


async def _wait_until(moment: datetime) -> None:
    while datetime.now(UTC) < moment:
        await asyncio.sleep(0.5)


async def test_the_crl_is_resigned_before_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, intermediate = _pki(tmp_path)
    crl_file = tmp_path / "crl" / "crl.pem"
    # The broker starts with a CRL of its own; the control plane takes over from there.
    write_crl(crl_file, intermediate.sign_crl([], number=1, days=CRL_SECONDS / 86400))
    broker = start_crl_broker(root, tmp_path / "broker", crl_file)
    # Configured as in production: through the environment, read when the app starts.
    for name, value in {
        "CA_DIR": str(intermediate.directory),
        "CRL_FILE": str(crl_file),
        "CRL_DAYS": str(CRL_SECONDS / 86400),
        "BROKER_RELOAD": json.dumps(["kill", "-HUP", str(broker.pid)]),
    }.items():
        monkeypatch.setenv(f"MADOGUCHI_ENROLLMENT_{name}", value)
    try:
        async for cloud in _running_cloud(
            CloudSettings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'crl.db'}",
                mqtt=BrokerSettings(enabled=False),
            )
        ):
            admin = await cloud.token(Role.ADMIN)
            kiosks = {}
            for kiosk_id in ("crl-k1", "crl-k2"):
                token = await _token(cloud, kiosk_id, admin)
                kiosks[kiosk_id] = await enroll(
                    URL, token, kiosk_id, tmp_path / kiosk_id, client=cloud.client
                )
            revoked = await cloud.client.post(
                "/api/kiosks/crl-k2/revoke", headers={"Authorization": f"Bearer {admin}"}
            )
            assert revoked.status_code == 200 and revoked.json()["broker_reload"] == "done"
            first_expiry = next_update(crl_file)
            assert first_expiry is not None
            assert first_expiry - datetime.now(UTC) < timedelta(seconds=CRL_SECONDS + 1)
            assert await _connects(broker, kiosks["crl-k1"], "crl-k1")
            assert not await _connects(broker, kiosks["crl-k2"], "crl-k2")

            # Past the first CRL's nextUpdate: without a new one every handshake would fail.
            await _wait_until(first_expiry + timedelta(seconds=2))
            later_expiry = next_update(crl_file)
            assert later_expiry is not None and later_expiry > datetime.now(UTC)
            assert await _connects(broker, kiosks["crl-k1"], "crl-k1")
            assert not await _connects(broker, kiosks["crl-k2"], "crl-k2")
            crl = x509.load_pem_x509_crl(crl_file.read_bytes())
            serial = int(revoked.json()["revoked"][0], 16)
            assert crl.get_revoked_certificate_by_serial_number(serial) is not None
            assert crl.is_signature_valid(intermediate.certificate.public_key())  # type: ignore[arg-type]

            async with transaction(cloud.app.state.sessions) as db:
                refreshes = list(
                    await db.scalars(
                        select(AuditEntry).where(AuditEntry.action == "enrollment.crl_refresh")
                    )
                )
            assert refreshes and all(e.actor == "system" for e in refreshes)
            assert refreshes[-1].detail["broker_reload"] == "done"
            assert cloud.app.state.crl_refresher.refreshed == len(refreshes)
    finally:
        broker.stop()


async def test_an_expired_crl_locks_every_kiosk_out(tmp_path: Path, env_cloud: Cloud) -> None:
    """The failure the refresh prevents, on a real broker."""
    root, intermediate = _pki(tmp_path)
    env_cloud.app.state.enrollment_settings = EnrollmentSettings(ca_dir=intermediate.directory)
    token = await _token(env_cloud, "crl-k3")
    kiosk = await enroll(URL, token, "crl-k3", tmp_path / "k3", client=env_cloud.client)
    crl_file = tmp_path / "crl" / "crl.pem"
    write_crl(crl_file, intermediate.sign_crl([], number=1, days=-1 / 86400))
    broker = start_crl_broker(root, tmp_path / "broker", crl_file)
    try:
        assert not await _connects(broker, kiosk, "crl-k3")
        write_crl(crl_file, intermediate.sign_crl([], number=2, days=1))
        broker.stop()
        broker.start()
        assert await _connects(broker, kiosk, "crl-k3")
    finally:
        broker.stop()


async def test_refresh_is_due_only_near_expiry(tmp_path: Path, env_cloud: Cloud) -> None:
    _, intermediate = _pki(tmp_path)
    crl_file = tmp_path / "crl.pem"
    settings = EnrollmentSettings(ca_dir=intermediate.directory, crl_file=crl_file, crl_days=30)
    env_cloud.app.state.enrollment_settings = settings
    refresher = env_cloud.app.state.crl_refresher
    now = datetime.now(UTC)
    assert refresher.due(settings, now)  # no CRL yet: the broker needs one
    assert await refresher.check_once(now)
    expires = next_update(crl_file)
    assert expires is not None
    assert not refresher.due(settings, now + timedelta(days=14))
    assert refresher.due(settings, now + timedelta(days=16))
    assert not await refresher.check_once(now + timedelta(days=1))
    crl_file.write_text("garbage")
    assert refresher.due(settings, now)  # unreadable: sign a good one
    settings.crl_refresh = False
    assert not await refresher.check_once(now)
    # A long validity is looked at hourly; a short one often enough to catch it.
    assert check_interval(settings) == 3600
    assert check_interval(EnrollmentSettings(crl_days=20 / 86400)) == 2.5
