"""Consent documents, the retention purge and the data inventory (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.alerts.models import Alert
from cloud.attendance.models import SupportAttendance
from cloud.audit.chain import seal, verify
from cloud.audit.models import AuditEntry
from cloud.auth.models import ApiToken, Role, StaffUser
from cloud.calendar.models import SiteClosure
from cloud.db.base import Base, import_all_models
from cloud.db.engine import transaction
from cloud.fleet.models import Kiosk, KioskEvent, KioskStateChange
from cloud.inspections.models import Incident, Inspection
from cloud.maintenance.models import (
    KioskCommand,
    KioskLogBundle,
    KioskScreenshot,
    Rollout,
    RolloutTarget,
)
from cloud.privacy import inventory as inventory_module
from cloud.privacy.demo import seed_demo
from cloud.privacy.publisher import ConsentConfigSync
from cloud.privacy.purge import PURGE_ACTION, RULES, purge
from cloud.privacy.service import today_in_japan
from cloud.privacy.settings import RetentionSettings
from cloud.routing.models import CallInvite, CallRecord, CallSignal, StaffingGap, SupportCase
from protocol.v1 import ConfigMessage, KioskConfig, decode
from tests.cloud.conftest import PASSWORD, Cloud

SITE = "city-hall"
KIOSK = "k-privacy"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _doc(kind: str, version: str, effective_from: date) -> dict[str, str]:
    return {
        "kind": kind,
        "version": version,
        "title": "利用規約" if kind == "terms" else "個人情報の取扱い",
        "body": "この端末の利用にあたって…",
        "effective_from": effective_from.isoformat(),
    }


# --- consent documents -----------------------------------------------------------------------


async def test_admin_records_versions_city_reads_operator_is_refused(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    city = await cloud.token(Role.CITY)
    operator = await cloud.token(Role.OPERATOR)
    today = today_in_japan()

    current = await cloud.client.get("/api/consent-documents/current", headers=_auth(city))
    assert current.status_code == 200
    # Nothing recorded: kiosks keep the protocol's default versions.
    assert current.json()["terms"] is None
    assert current.json()["terms_version"] == KioskConfig().terms_version

    created = await cloud.client.post(
        "/api/consent-documents", json=_doc("terms", "2026-11", today), headers=_auth(admin)
    )
    assert created.status_code == 201, created.text
    await cloud.client.post(
        "/api/consent-documents", json=_doc("privacy", "2026-11p", today), headers=_auth(admin)
    )
    later = await cloud.client.post(
        "/api/consent-documents",
        json=_doc("terms", "2027-01", today + timedelta(days=30)),
        headers=_auth(admin),
    )
    assert later.status_code == 201
    duplicate = await cloud.client.post(
        "/api/consent-documents", json=_doc("terms", "2026-11", today), headers=_auth(admin)
    )
    assert duplicate.status_code == 409

    for token, code in ((operator, 403), (city, 403)):
        refused = await cloud.client.post(
            "/api/consent-documents", json=_doc("terms", "x1", today), headers=_auth(token)
        )
        assert refused.status_code == code
    assert (
        await cloud.client.get("/api/consent-documents", headers=_auth(operator))
    ).status_code == 403
    listed = await cloud.client.get("/api/consent-documents", headers=_auth(city))
    assert {d["version"] for d in listed.json()} == {"2026-11", "2026-11p", "2027-01"}

    current = await cloud.client.get("/api/consent-documents/current", headers=_auth(city))
    body = current.json()
    # The version announced for next month is not current yet.
    assert (body["terms_version"], body["privacy_version"]) == ("2026-11", "2026-11p")
    assert body["terms"]["body"].startswith("この端末")


async def test_a_version_in_force_is_never_edited_or_deleted(cloud: Cloud) -> None:
    admin = await cloud.token(Role.ADMIN)
    today = today_in_japan()
    in_force = (
        await cloud.client.post(
            "/api/consent-documents", json=_doc("terms", "v-now", today), headers=_auth(admin)
        )
    ).json()
    update = {"title": "改", "body": "改訂", "effective_from": today.isoformat()}
    path = f"/api/consent-documents/{in_force['id']}"
    assert (await cloud.client.put(path, json=update, headers=_auth(admin))).status_code == 409
    assert (await cloud.client.delete(path, headers=_auth(admin))).status_code == 409

    # A version announced for later may be corrected or withdrawn before it takes effect...
    tomorrow = today + timedelta(days=1)
    future = (
        await cloud.client.post(
            "/api/consent-documents", json=_doc("terms", "v-next", tomorrow), headers=_auth(admin)
        )
    ).json()
    path = f"/api/consent-documents/{future['id']}"
    update["effective_from"] = tomorrow.isoformat()
    edited = await cloud.client.put(path, json=update, headers=_auth(admin))
    assert edited.status_code == 200 and edited.json()["body"] == "改訂"
    # ...unless a call already recorded consent to it.
    async with transaction(cloud.app.state.sessions) as db:
        db.add(_call(datetime.now(UTC), terms_version="v-next"))
    assert (await cloud.client.delete(path, headers=_auth(admin))).status_code == 409

    withdrawn = (
        await cloud.client.post(
            "/api/consent-documents",
            json=_doc("privacy", "p-next", tomorrow),
            headers=_auth(admin),
        )
    ).json()
    path = f"/api/consent-documents/{withdrawn['id']}"
    assert (await cloud.client.delete(path, headers=_auth(admin))).status_code == 204
    assert (await cloud.client.get(path, headers=_auth(admin))).status_code == 404

    async with transaction(cloud.app.state.sessions) as db:
        actions = set(await db.scalars(select(AuditEntry.action)))
    assert {"consent.add", "consent.update", "consent.delete"} <= actions


class FakeLink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []

    async def publish(self, topic_name: str, payload: bytes, *, retain: bool = False) -> None:
        self.sent.append((topic_name, payload, retain))


async def test_kiosks_are_given_the_current_versions_and_only_those(cloud: Cloud) -> None:
    link = FakeLink()
    sync = ConsentConfigSync(cloud.app.state.sessions, link, interval_s=60)
    async with transaction(cloud.app.state.sessions) as db:
        db.add(_kiosk(KIOSK))
    assert await sync.sync() == 0 and link.sent == []  # nothing recorded: defaults stay

    async with transaction(cloud.app.state.sessions) as db:
        await seed_demo(db)
        await seed_demo(db)  # once only
    assert await sync.sync() == 1
    topic_name, payload, retain = link.sent[0]
    assert retain and topic_name.endswith(f"/{KIOSK}/config")
    _, message = decode(topic_name, payload)
    assert isinstance(message, ConfigMessage)
    assert (message.config.terms_version, message.config.privacy_version) == ("2026-04",) * 2
    # Only the consent fields: the kiosk keeps the rest of its configuration.
    assert message.config.model_fields_set == {"terms_version", "privacy_version"}
    mine = KioskConfig(telemetry_interval_s=5.0, terms_version="old", privacy_version="old")
    merged = mine.model_copy(
        update=message.config.model_dump(include=message.config.model_fields_set)
    )
    assert merged.telemetry_interval_s == 5.0 and merged.terms_version == "2026-04"
    assert await sync.sync() == 0  # already given


# --- the purge -------------------------------------------------------------------------------


def _kiosk(kiosk_id: str) -> Kiosk:
    now = datetime.now(UTC)
    return Kiosk(
        kiosk_id=kiosk_id,
        site_id=SITE,
        status="online",
        bd_seq=1,
        last_seen_at=now,
        agent_version="1",
        os_version="test",
        peripherals=[],
    )


def _call(at: datetime, *, state: str = "ended", terms_version: str = "2026-04") -> CallRecord:
    return CallRecord(
        call_id=str(uuid.uuid4()),
        kiosk_id=KIOSK,
        site_id=SITE,
        state=state,
        requested_at=at,
        terms_version=terms_version,
        privacy_version="2026-04",
    )


def _factories(staff_id: int) -> dict[str, Callable[[datetime], list[Any]]]:
    def rollout(at: datetime) -> list[Any]:
        row = Rollout(
            version="2",
            url="https://example.invalid/a",
            sha256="0" * 64,
            wave_size=1,
            wave_interval_s=1,
            max_failures=1,
            state="done",
            created_by="admin",
            created_at=at,
        )
        return [row]

    return {
        "call": lambda at: [_call(at)],
        "support_case": lambda at: [
            SupportCase(site_id=SITE, procedure="renewal", outcome="completed", recorded_at=at)
        ],
        "support_attendance": lambda at: [
            SupportAttendance(
                site_id=SITE, day=at.date(), staff_id=staff_id, recorded_by="s", recorded_at=at
            )
        ],
        "inspection": lambda at: [
            Inspection(
                site_id=SITE,
                kiosk_id=KIOSK,
                inspected_on=at.date(),
                checklist={"screen": "ok"},
                result="ok",
                recorded_by="t",
                recorded_at=at,
            )
        ],
        "incident": lambda at: [
            Incident(
                site_id=SITE,
                occurred_at=at,
                kind="incident",
                severity="minor",
                summary="紙詰まり",
                recorded_by="s",
                recorded_at=at,
            )
        ],
        "site_closure": lambda at: [
            SiteClosure(
                site_id=SITE, date=at.date(), reason="暴風警報", recorded_by="c", recorded_at=at
            )
        ],
        "staffing_gap": lambda at: [
            StaffingGap(site_id=SITE, started_at=at, ended_at=at + timedelta(minutes=5))
        ],
        "kiosk_state_change": lambda at: [
            KioskStateChange(kiosk_id=KIOSK, status="online", cause="birth", bd_seq=1, at=at)
        ],
        "kiosk_event": lambda at: [
            KioskEvent(
                kiosk_id=KIOSK,
                seq=int(at.timestamp() * 1000),
                name="error",
                severity="info",
                attributes={},
                sent_at=at,
                received_at=at,
            )
        ],
        "kiosk_command": lambda at: [
            KioskCommand(
                command_id=str(uuid.uuid4()),
                kiosk_id=KIOSK,
                name="self_test",
                args={},
                issued_by="t",
                issued_at=at,
                expires_at=at + timedelta(minutes=5),
                state="succeeded",
                updated_at=at,
            )
        ],
        "kiosk_log_bundle": lambda at: [
            KioskLogBundle(
                command_id=str(uuid.uuid4()),
                kiosk_id=KIOSK,
                lines=["x"],
                truncated=False,
                received_at=at,
            )
        ],
        "kiosk_screenshot": lambda at: [
            KioskScreenshot(
                command_id=str(uuid.uuid4()),
                kiosk_id=KIOSK,
                taken_at=at,
                width=1,
                height=1,
                jpeg=b"\xff\xd8",
            )
        ],
        "alert": lambda at: [
            Alert(
                kiosk_id=KIOSK,
                site_id=SITE,
                kind="offline",
                severity="warning",
                detail="",
                opened_at=at,
                resolved_at=at + timedelta(minutes=1),
            )
        ],
        "rollout": rollout,
        "call_invite": lambda at: [
            CallInvite(
                token_hash=uuid.uuid4().hex * 2,
                call_id=str(uuid.uuid4()),
                created_at=at,
                expires_at=at,
            )
        ],
        "call_signal": lambda at: [
            CallSignal(call_id=str(uuid.uuid4()), recipient="guest", kind="left", created_at=at)
        ],
        "api_token": lambda at: [
            ApiToken(
                token_hash=uuid.uuid4().hex * 2, user_id=staff_id, created_at=at, expires_at=at
            )
        ],
    }


async def _count(cloud: Cloud, model: type[Base]) -> int:
    async with transaction(cloud.app.state.sessions) as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def _fill(cloud: Cloud, retention: RetentionSettings, now: datetime) -> dict[str, int]:
    """Per record type: one row just past retention, one just inside, and (where a rule keeps
    rows regardless) one old row that must stay. Returns the rows expected to be deleted."""
    await cloud.make_user(Role.SUPPORT, "purge-staff")
    async with transaction(cloud.app.state.sessions) as db:
        staff_id = await db.scalar(select(StaffUser.id).where(StaffUser.username == "purge-staff"))
        assert staff_id is not None
        db.add(_kiosk(KIOSK))
        await db.flush()
        for key, make in _factories(staff_id).items():
            days = getattr(retention, key)
            for at in (now - timedelta(days=days + 1), now - timedelta(days=days - 1)):
                db.add_all(make(at))
        old_for_ever = now - timedelta(days=4000)
        db.add(_call(old_for_ever, state="connected"))  # a call still in progress
        db.add(
            Alert(
                kiosk_id=KIOSK,
                site_id=SITE,
                kind="offline",
                severity="warning",
                detail="",
                opened_at=old_for_ever,
                resolved_at=None,
            )
        )
        await db.flush()
        rollout_id = await db.scalar(select(func.min(Rollout.id)))
        db.add(RolloutTarget(rollout_id=rollout_id, kiosk_id=KIOSK, state="succeeded"))
        # Audit entries: two past retention, one inside; sealed into the chain.
        for days in (retention.audit_entry + 2, retention.audit_entry + 1, 10):
            db.add(
                AuditEntry(
                    at=now - timedelta(days=days),
                    actor="t",
                    action="test",
                    target="x",
                    detail={},
                )
            )
    async with transaction(cloud.app.state.sessions) as db:
        await seal(db=db, now=now)
    expected = {key: 1 for key in _factories(0)}
    expected["audit_entry"] = 2
    return expected


async def test_purge_removes_exactly_the_expired_rows_and_audits_the_counts(cloud: Cloud) -> None:
    retention = RetentionSettings()
    now = datetime.now(UTC)
    expected = await _fill(cloud, retention, now)
    before = {rule.key: await _count(cloud, rule.model) for rule in RULES}

    async with transaction(cloud.app.state.sessions) as db:
        dry = await purge(db=db, retention=retention, now=now, dry_run=True)
    assert dry.counts == expected
    assert {rule.key: await _count(cloud, rule.model) for rule in RULES} == before
    async with transaction(cloud.app.state.sessions) as db:
        runs = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == PURGE_ACTION)
        )
    assert runs == 0  # a dry run changes nothing, not even the audit log

    async with transaction(cloud.app.state.sessions) as db:
        report = await purge(db=db, retention=retention, now=now)
    assert report.counts == expected
    after = {rule.key: await _count(cloud, rule.model) for rule in RULES}
    for rule in RULES:
        extra = 1 if rule.key == "audit_entry" else 0  # the purge's own entry
        assert after[rule.key] == before[rule.key] - expected[rule.key] + extra, rule.key
    assert await _count(cloud, RolloutTarget) == 0  # went with its rollout

    async with transaction(cloud.app.state.sessions) as db:
        entries = list(
            await db.scalars(select(AuditEntry).where(AuditEntry.action == PURGE_ACTION))
        )
        assert len(entries) == 1  # one entry per run
        assert entries[0].detail == {"deleted": expected, "total": sum(expected.values())}
        # The chain still verifies: it resumes from the last entry removed.
        result = await verify(db=db, now=now)
    assert result.ok, result

    async with transaction(cloud.app.state.sessions) as db:
        second = await purge(db=db, retention=retention, now=now)
    assert second.total == 0


async def test_screenshots_go_first(cloud: Cloud) -> None:
    retention = RetentionSettings()
    assert retention.kiosk_screenshot <= 7
    assert min(getattr(retention, rule.key) for rule in RULES if rule.key != "call_signal") == (
        retention.kiosk_screenshot
    )
    assert retention.call >= 5 * 365 and retention.audit_entry >= 5 * 365


# --- the data inventory ----------------------------------------------------------------------


async def test_inventory_lists_every_table(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    token = await cloud.token(Role.OPERATOR)
    response = await cloud.client.get("/api/privacy/inventory", headers=_auth(token))
    assert response.status_code == 200
    body = response.json()
    import_all_models()
    listed = {t["table"]: t for t in body["tables"]}
    assert set(listed) == set(Base.metadata.tables)
    undocumented = sorted(name for name, t in listed.items() if not t["documented"])
    assert undocumented == [], (
        f"add {undocumented} to cloud/privacy/inventory.py (and a purge rule or a reason kept)"
    )
    assert listed["kiosk_screenshot"]["retention_days"] == 7
    assert listed["call"]["personal_data"] == "none"
    assert "PIN" in body["never_leaves_kiosk"]
    assert {s["where"] for s in body["other_stores"]} >= {
        "time-series store",
        "kiosk RAM session dir",
        "kiosk disk queue",
    }
    # A table nobody described is reported, so this test fails for it.
    monkeypatch.delitem(inventory_module.TABLES, "call")
    again = inventory_module.inventory(RetentionSettings())
    tables = again["tables"]
    assert isinstance(tables, list)
    assert [t["table"] for t in tables if not t["documented"]] == ["call"]


async def test_inventory_page_for_a_logged_in_user(cloud: Cloud) -> None:
    assert (await cloud.client.get("/privacy")).status_code == 401
    name = await cloud.make_user(Role.SUPPORT)
    login = await cloud.client.post("/login", data={"username": name, "password": PASSWORD})
    assert login.status_code == 303
    page = await cloud.client.get("/privacy")
    assert page.status_code == 200
    assert "データの取扱い" in page.text and "kiosk_screenshot" in page.text
    assert "暗証番号" in page.text
