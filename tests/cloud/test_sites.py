"""`/api/sites`: registering a site from its file, the lifecycle's refusals (409), the
revocation at close, the audit trail, roles, and routing/calendar for a site that is not
open. SQLite and PostgreSQL. The passing connection test and the open site are exercised end
to end with a real kiosk agent in tests/e2e/test_popup_lifecycle.py."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.calendar.lookup import OpeningHours
from cloud.db.engine import transaction
from cloud.enrollment.settings import EnrollmentSettings
from cloud.routing.models import CallRecord
from cloud.routing.router import SITE_NOT_OPEN
from protocol.v1 import CallMessage
from provisioning.ca import FleetCA
from provisioning.kiosk_identity import EnrollFailedError, enroll
from provisioning.sites import SITES_DIR
from tests.cloud.conftest import Cloud

URL = "http://testserver"


def site_definition(site_id: str, kiosks: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((SITES_DIR / "popup-example.yaml").read_text(encoding="utf-8"))
    )
    data["site_id"] = site_id
    data["kiosks"] = [
        {"kiosk_id": k, "hostname": f"192.168.8.{20 + n}"} for n, k in enumerate(kiosks, 1)
    ]
    for period in data["schedule"]["periods"]:  # YAML dates → JSON strings
        period["first"], period["last"] = str(period["first"]), str(period["last"])
    return data


def configure_ca(cloud: Cloud, tmp_path: Path) -> Path:
    root = FleetCA.create(tmp_path / "root")
    intermediate = root.create_intermediate(tmp_path / "intermediate")
    crl = tmp_path / "crl.pem"
    cloud.app.state.enrollment_settings = EnrollmentSettings(
        ca_dir=intermediate.directory, crl_file=crl
    )
    cloud.app.state.settings.sites.wipe_wait_s = 0.5  # no broker here: nothing is sent
    return crl


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create(cloud: Cloud, admin: str, data: dict[str, Any], name: str | None = None) -> Any:
    return await cloud.client.post(
        "/api/sites",
        json={"file_name": name or f"{data['site_id']}.yaml", "definition": data},
        headers=bearer(admin),
    )


async def audit_actions(cloud: Cloud, target: str) -> list[str]:
    async with transaction(cloud.app.state.sessions) as db:
        rows = await db.scalars(
            select(AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_the_lifecycle_and_its_refusals(cloud: Cloud, tmp_path: Path) -> None:
    crl_file = configure_ca(cloud, tmp_path)
    admin, tech = await cloud.token(Role.ADMIN), await cloud.token(Role.TECH)
    created = await create(cloud, admin, site_definition("popup-a", ["popup-a-01", "popup-a-02"]))
    assert created.status_code == 201, created.text
    body = created.json()
    tokens = {t["kiosk_id"]: t["token"] for t in body["tokens"]}
    assert set(tokens) == {"popup-a-01", "popup-a-02"}
    assert body["site"]["state"] == "created"
    assert [k["identity"] for k in body["site"]["kiosks"]] == ["pending", "pending"]
    # The kiosks are in the fleet registry before they ever connect.
    fleet = await cloud.client.get("/api/kiosks/popup-a-01", headers=bearer(tech))
    assert fleet.status_code == 200 and fleet.json()["site_id"] == "popup-a"
    assert fleet.json()["status"] == "offline"

    # Not provisioned while a kiosk has no certificate; the refusal names it.
    early = await cloud.client.post("/api/sites/popup-a/provisioned", headers=bearer(tech))
    assert early.status_code == 409
    assert "no certificate for popup-a-01, popup-a-02" in early.json()["detail"]

    identity = await enroll(
        URL, tokens["popup-a-01"], "popup-a-01", tmp_path / "k1", client=cloud.client
    )
    with pytest.raises(EnrollFailedError, match="already been used"):
        await enroll(URL, tokens["popup-a-01"], "popup-a-01", tmp_path / "k1b", client=cloud.client)
    await enroll(URL, tokens["popup-a-02"], "popup-a-02", tmp_path / "k2", client=cloud.client)
    provisioned = await cloud.client.post("/api/sites/popup-a/provisioned", headers=bearer(tech))
    assert provisioned.status_code == 200, provisioned.text
    assert provisioned.json()["state"] == "provisioned"
    assert all(k["enrolled"] for k in provisioned.json()["kiosks"])

    again = await cloud.client.post("/api/sites/popup-a/provisioned", headers=bearer(tech))
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "cannot mark as provisioned site popup-a: it is provisioned (needs created)"
    )
    # No open without a passing connection test.
    opened = await cloud.client.post("/api/sites/popup-a/open", headers=bearer(tech))
    assert opened.status_code == 409 and "it is provisioned (needs checked)" in opened.text
    checked = await cloud.client.post("/api/sites/popup-a/checked", headers=bearer(tech))
    assert checked.status_code == 409
    assert "has no connection test yet" in checked.json()["detail"]
    # Decommissioning needs a closed site.
    early_end = await cloud.client.post("/api/sites/popup-a/decommission", headers=bearer(admin))
    assert early_end.status_code == 409 and "(needs closed)" in early_end.text

    closed = await cloud.client.post("/api/sites/popup-a/close", headers=bearer(tech))
    assert closed.status_code == 200, closed.text
    result = closed.json()
    assert result["site"]["state"] == "closed"
    assert len(result["wipe_commands"]) == 2  # one session wipe per kiosk
    assert all(len(serials) == 1 for serials in result["revoked"].values())
    serial = int(result["revoked"]["popup-a-01"][0], 16)
    assert serial == identity.certificate().serial_number
    crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    commands = await cloud.client.get("/api/kiosks/popup-a-01/commands", headers=bearer(tech))
    assert [c["name"] for c in commands.json()] == ["restart_agent"]

    twice = await cloud.client.post("/api/sites/popup-a/close", headers=bearer(tech))
    assert twice.status_code == 409 and "it is closed" in twice.json()["detail"]

    ended = await cloud.client.post("/api/sites/popup-a/decommission", headers=bearer(admin))
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "decommissioned"
    assert {k["identity"] for k in ended.json()["kiosks"]} == {"decommissioned"}
    token_again = await cloud.client.post(
        "/api/kiosks/popup-a-01/enrollment", headers=bearer(admin)
    )
    assert token_again.status_code == 409 and "decommissioned" in token_again.text

    kept = await cloud.client.get("/api/sites/popup-a", headers=bearer(tech))
    assert [(e["from_state"], e["to_state"]) for e in kept.json()["history"]] == [
        (None, "created"),
        ("created", "provisioned"),
        ("provisioned", "closed"),
        ("closed", "closed"),  # the certificates revoked
        ("closed", "decommissioned"),
    ]
    assert await audit_actions(cloud, "site:popup-a") == [
        "site.create",
        "site.provisioned",
        "site.closed",
        "site.revoke",
        "site.decommissioned",
    ]
    listed = await cloud.client.get("/api/sites", headers=bearer(tech))
    assert [(s["site_id"], s["state"]) for s in listed.json()] == [("popup-a", "decommissioned")]


async def test_bad_files_and_taken_kiosks_register_nothing(cloud: Cloud, tmp_path: Path) -> None:
    configure_ca(cloud, tmp_path)
    admin = await cloud.token(Role.ADMIN)
    unknown = site_definition("popup-b", ["popup-b-01"]) | {"colour": "blue"}
    refused = await create(cloud, admin, unknown)
    assert refused.status_code == 422
    assert refused.json()["detail"] == ["popup-b.yaml: colour: unknown field"]

    overlapping = site_definition("popup-b", ["popup-b-01"])
    overlapping["schedule"]["periods"].append({"first": "2026-12-12", "last": "2026-12-20"})
    refused = await create(cloud, admin, overlapping)
    assert refused.status_code == 422 and "overlapping periods" in refused.text

    named = await create(cloud, admin, site_definition("popup-b", ["popup-b-01"]), "other.yaml")
    assert named.status_code == 422 and "file is named 'other.yaml'" in named.text

    assert (
        await create(cloud, admin, site_definition("popup-b", ["popup-b-01"]))
    ).status_code == 201
    twice = await create(cloud, admin, site_definition("popup-b", ["popup-b-01"]))
    assert twice.status_code == 409 and "already registered" in twice.text
    # A kiosk in two sites: the second site is refused as a whole.
    taken = await create(cloud, admin, site_definition("popup-c", ["popup-c-01", "popup-b-01"]))
    assert taken.status_code == 409
    assert taken.json()["detail"] == "kiosks already in another site: popup-b-01 (site popup-b)"
    missing = await cloud.client.get("/api/sites/popup-c", headers=bearer(admin))
    assert missing.status_code == 404
    fleet = await cloud.client.get("/api/kiosks/popup-c-01", headers=bearer(admin))
    assert fleet.status_code == 404  # nothing of the refused site was kept


async def test_roles(sqlite_cloud: Cloud, tmp_path: Path) -> None:
    configure_ca(sqlite_cloud, tmp_path)
    tech, operator = await sqlite_cloud.token(Role.TECH), await sqlite_cloud.token(Role.OPERATOR)
    data = site_definition("popup-d", ["popup-d-01"])
    assert (await create(sqlite_cloud, tech, data)).status_code == 403  # tokens: admin only
    assert (
        await sqlite_cloud.client.get("/api/sites", headers=bearer(operator))
    ).status_code == 403
    unknown = await sqlite_cloud.client.get("/api/sites", headers=bearer("not-a-token"))
    assert unknown.status_code == 401
    admin = await sqlite_cloud.token(Role.ADMIN)
    assert (await create(sqlite_cloud, admin, data)).status_code == 201
    for step in ("provisioned", "open", "close"):
        answer = await sqlite_cloud.client.post(
            f"/api/sites/popup-d/{step}", headers=bearer(operator)
        )
        assert answer.status_code == 403, step
    end = await sqlite_cloud.client.post("/api/sites/popup-d/decommission", headers=bearer(tech))
    assert end.status_code == 403


async def test_a_site_that_is_not_open_takes_no_call(sqlite_cloud: Cloud, tmp_path: Path) -> None:
    configure_ca(sqlite_cloud, tmp_path)
    admin = await sqlite_cloud.token(Role.ADMIN)
    assert (
        await create(sqlite_cloud, admin, site_definition("popup-e", ["popup-e-01"]))
    ).status_code == 201
    router = sqlite_cloud.app.state.router
    now = datetime.now(UTC)

    def request(kiosk_id: str) -> CallMessage:
        return CallMessage(
            kiosk_id=kiosk_id,
            sent_at=now,
            seq=1,
            call_id=uuid.uuid4(),
            action="request",
            terms_version="2026-04",
            privacy_version="2026-04",
        )

    assert await router.on_kiosk_message(request("popup-e-01"), now) == SITE_NOT_OPEN
    # A kiosk of a site that was never registered keeps being routed as before.
    assert await router.on_kiosk_message(request("hand-made-01"), now) == "call:queued"
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        calls = list(await db.scalars(select(CallRecord.kiosk_id)))
    assert calls == ["hand-made-01"]

    # The calendar: the pop-up is closed whatever its schedule says, until it is open.
    hours = OpeningHours()
    async with transaction(sqlite_cloud.app.state.sessions) as db:
        await hours.refresh(db=db, now=now)
    assert not hours("popup-e", datetime(2026, 12, 11, 3, 0, tzinfo=UTC))  # 12:00 JST, a period
    schedule = hours.schedule("popup-e")
    assert schedule is not None and schedule.periods[0].first.isoformat() == "2026-12-11"
    # Its days come from the registered file (it is in no sites directory).
    days = await sqlite_cloud.client.get(
        "/api/sites/popup-e/days?from=2026-12-10&to=2026-12-11", headers=bearer(admin)
    )
    assert days.status_code == 200, days.text
    assert [d["open"] for d in days.json()] == [False, True]
