"""A pop-up site from its file to decommissioned, with real parts: PostgreSQL, a Mosquitto
that reads the fleet's CRL, coturn, the control plane behind uvicorn, the `madoguchi site …`
and `madoguchi edge enroll` commands, and the real kiosk agent answering the connection test.

create → provision (inventory only; the kiosk enrolls with the token from the inventory, as
the playbook's role does) → check → open → a call rings an operator → close (session wipe
command, certificates revoked, the broker refuses the kiosk after the CRL reload) →
decommission. Each phase's wall time is printed (the note reports them). Then the faults:
a token reused or expired, bad site files, open without a passing check, close twice.
"""

from __future__ import annotations

import asyncio
import copy
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from cloud.auth.models import Role, StaffUser
from cloud.calendar.lookup import OpeningHours
from cloud.db.engine import transaction
from cloud.enrollment.models import EnrollmentToken
from cloud.enrollment.service import write_current_crl
from cloud.enrollment.settings import EnrollmentSettings
from cloud.fleet.models import Kiosk
from cloud.maintenance.models import KioskCommand
from cloud.routing import service as routing
from cloud.routing.models import CallRecord, Presence
from cloud.routing.router import SITE_NOT_OPEN
from cloud.settings import BrokerSettings, CallSettings, CloudSettings
from cloud.site_checks.settings import SiteCheckSettings
from cloud.sites.models import Site
from edge.agent import KioskAgent
from edge.settings import EdgeSettings
from edge.site_check.settings import SiteCheckLimits
from madoguchi.cli import app as cli
from madoguchi.mosquitto import MosquittoProcess
from protocol.v1 import CallMessage, TopicKind, decode, encode, topic
from provisioning.ca import FleetCA
from provisioning.kiosk_identity import KioskIdentity
from provisioning.sites import SITES_DIR
from tests.cloud.conftest import Cloud, _running_cloud, serving
from tests.mqtt_clients import tls_context
from tests.servers import Coturn, start_crl_broker

SITE = "popup-community"
KIOSK = "popup-community-01"


def site_file(directory: Path, site_id: str = SITE, kiosks: tuple[str, ...] = (KIOSK,)) -> Path:
    """The shipped pop-up example under another id (a community centre for three days)."""
    data: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((SITES_DIR / "popup-example.yaml").read_text(encoding="utf-8"))
    )
    data["site_id"] = site_id
    data["kiosks"] = [
        {"kiosk_id": k, "hostname": f"192.168.8.{n}"} for n, k in enumerate(kiosks, 21)
    ]
    path = directory / f"{site_id}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Plant:
    """Everything a pop-up needs from the city's side, running."""

    cloud: Cloud
    url: str
    broker: MosquittoProcess
    root: FleetCA
    crl_file: Path
    admin: str
    tech: str

    async def madoguchi(self, *args: str, token: str | None = None) -> Result:
        """The real command line, against the served control plane."""
        env = {"MADOGUCHI_URL": self.url, "MADOGUCHI_TOKEN": token or self.admin}
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


@pytest.fixture
async def plant(fresh_postgres_url: str, coturn: Coturn, tmp_path: Path) -> AsyncIterator[Plant]:
    root = FleetCA.create(tmp_path / "root")
    intermediate = root.create_intermediate(tmp_path / "intermediate")
    crl_file = tmp_path / "crl.pem"
    enrollment = EnrollmentSettings(ca_dir=intermediate.directory, crl_file=crl_file)
    # The control plane's own certificate comes from the intermediate as the kiosks' do: the
    # broker checks every client against the intermediate's CRL.
    cloud_identity = intermediate.issue_cloud(tmp_path / "cloud-cert")
    with cloud_identity.cert_path.open("ab") as chain:
        chain.write(intermediate.cert_path.read_bytes())
    # The broker needs a CRL before its first start: an empty one, signed like the others.
    from cloud.db.engine import make_engine, make_sessionmaker
    from cloud.db.migrate import upgrade

    engine = make_engine(fresh_postgres_url)
    await upgrade(engine)
    async with transaction(make_sessionmaker(engine)) as db:
        await write_current_crl(db=db, settings=enrollment)
    await engine.dispose()
    broker = start_crl_broker(root, tmp_path / "broker", crl_file)
    enrollment.broker_reload = ["kill", "-HUP", str(broker.pid)]
    settings = CloudSettings(
        database_url=fresh_postgres_url,
        calls=CallSettings(turn=coturn.turn_settings()),
        mqtt=BrokerSettings(
            host="localhost",
            port=broker.port,
            ca_file=root.cert_path,
            cert_file=cloud_identity.cert_path,
            key_file=cloud_identity.key_path,
            client_id=f"cloud-{tmp_path.name}",
            shared_group=f"g{uuid.uuid4().hex[:12]}",
            session_expiry_s=30,
            reconnect_min_s=0.1,
            reconnect_max_s=1.0,
        ),
    )
    try:
        async for cloud in _running_cloud(settings):
            cloud.app.state.enrollment_settings = enrollment
            await asyncio.wait_for(cloud.app.state.consumer.connected.wait(), 15)
            async with serving(cloud) as address:
                cloud.app.state.site_check_settings = SiteCheckSettings(
                    public_url=f"http://{address}"
                )
                yield Plant(
                    cloud=cloud,
                    url=f"http://{address}",
                    broker=broker,
                    root=root,
                    crl_file=crl_file,
                    admin=await cloud.token(Role.ADMIN, "popup-admin"),
                    tech=await cloud.token(Role.TECH, "popup-tech"),
                )
    finally:
        broker.stop()


def kiosk_limits(coturn: Coturn) -> SiteCheckLimits:
    # Loopback on a shared machine: generous bounds (the edge's own tests flip each verdict).
    return SiteCheckLimits(
        turn_ca_file=coturn.ca_file,
        throughput_bytes=500_000,
        throughput_min_mbit_s=0.001,
        rtt_max_ms=5000,
        broker_tls_max_ms=10_000,
        turn_max_ms=10_000,
    )


class Supervisor:
    """What `run_forever` does on the box: a `restart_agent` command starts a fresh agent
    (which removes the session files before anything else)."""

    def __init__(self, settings: EdgeSettings, limits: SiteCheckLimits) -> None:
        self.settings, self.limits = settings, limits
        self.agent = KioskAgent(settings, site_check_limits=limits)
        self.restarts = 0
        self._stopped = False
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self.agent.run()
            if self._stopped or not self.agent.restart_requested:
                return
            self.restarts += 1
            self.agent = KioskAgent(self.settings, site_check_limits=self.limits)

    async def stop(self) -> None:
        self._stopped = True
        self.agent.stop()
        await asyncio.wait_for(self.task, 20)


async def until(predicate: Callable[[], Coroutine[Any, Any, bool]], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.1)


async def connects(broker: MosquittoProcess, identity: KioskIdentity, kiosk_id: str) -> bool:
    """A fresh TLS connection with the kiosk's own certificate, and a publish."""
    try:
        async with aiomqtt.Client(
            "localhost",
            broker.port,
            identifier=f"probe-{uuid.uuid4().hex[:8]}",
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=tls_context(identity.ca_path, (identity.cert_path, identity.key_path)),
            timeout=3,
        ) as client:
            await client.publish(topic(kiosk_id, TopicKind.EVENT), b"{}", qos=1)
    except (aiomqtt.MqttError, ssl.SSLError, OSError):
        return False
    return True


async def call_up(
    broker: MosquittoProcess, identity: KioskIdentity, *, listen_s: float = 5.0
) -> tuple[str, str | None, str | None]:
    """The resident presses the call button: a `call/up` request over the broker, as the
    kiosk; returns the call id and the control plane's first answer (action, reason)."""
    call_id = uuid.uuid4()
    request = CallMessage(
        kiosk_id=KIOSK,
        sent_at=datetime.now(UTC),
        seq=int(time.time() * 1000),
        call_id=call_id,
        action="request",
        terms_version="2026-04",
        privacy_version="2026-04",
    )
    async with aiomqtt.Client(
        "localhost",
        broker.port,
        identifier=f"resident-{uuid.uuid4().hex[:8]}",
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(identity.ca_path, (identity.cert_path, identity.key_path)),
        timeout=5,
    ) as client:
        await client.subscribe(topic(KIOSK, TopicKind.CALL_DOWN), qos=1)
        await client.publish(topic(KIOSK, TopicKind.CALL_UP), encode(request), qos=1)
        try:
            async with asyncio.timeout(listen_s):
                async for incoming in client.messages:
                    _, message = decode(incoming.topic.value, bytes(incoming.payload))
                    if isinstance(message, CallMessage) and message.call_id == call_id:
                        return str(call_id), message.action, message.reason
        except TimeoutError:
            pass
    return str(call_id), None, None


async def available_operator(cloud: Cloud) -> StaffUser:
    await cloud.make_user(Role.OPERATOR, "popup-operator")
    now = datetime.now(UTC)
    async with transaction(cloud.app.state.sessions) as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == "popup-operator"))
        assert user is not None
        await routing.sign_in(db=db, user=user, now=now)
        await routing.set_presence(db=db, user=user, status=Presence.AVAILABLE, now=now)
        db.expunge(user)
    return user


async def test_a_popup_site_from_file_to_decommissioned(
    plant: Plant, coturn: Coturn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud, sessions = plant.cloud, plant.cloud.app.state.sessions
    timings: dict[str, float] = {}
    lifecycle_started = time.perf_counter()

    # --- create ----------------------------------------------------------------------------
    started = time.perf_counter()
    tokens_file = tmp_path / "secrets" / "tokens.yaml"
    tokens_file.parent.mkdir()
    created = await plant.madoguchi(
        "site", "create", str(site_file(tmp_path)), "--tokens-out", str(tokens_file)
    )
    timings["create"] = time.perf_counter() - started
    assert created.exit_code == 0, created.output
    assert f"created {SITE} (popup) with 1 kiosks" in created.output
    assert tokens_file.stat().st_mode & 0o777 == 0o600
    token = yaml.safe_load(tokens_file.read_text())[KIOSK]
    assert token not in created.output  # written to the file, not to the screen

    # --- provision: the inventory, then the kiosk enrolls with the token it carries --------
    started = time.perf_counter()
    inventory = tmp_path / "secrets" / "inventory.yaml"
    provisioning = asyncio.create_task(
        plant.madoguchi(
            *("site", "provision", SITE, "--tokens", str(tokens_file)),
            *("--inventory", str(inventory), "--inventory-only", "--wait", "60"),
            token=plant.tech,
        )
    )
    await until(lambda: asyncio.sleep(0, inventory.exists()))
    hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["kiosks"]["children"]
    host_vars = hosts["site_popup_community"]["hosts"][KIOSK]
    identity_dir = tmp_path / "kiosk" / "identity"
    enrolled = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            *("edge", "enroll", "--url", plant.url, "--kiosk-id", host_vars["madoguchi_kiosk_id"]),
            *("--token", host_vars["madoguchi_enrollment_token"], "--out", str(identity_dir)),
        ],
    )
    assert enrolled.exit_code == 0, enrolled.output
    provisioned = await provisioning
    timings["provision"] = time.perf_counter() - started
    assert provisioned.exit_code == 0, provisioned.output
    assert f"{SITE}: provisioned; kiosks: {KIOSK} (enrolled)" in provisioned.output

    # The kiosk runs with its own certificate from here on.
    identity = KioskIdentity(identity_dir)
    settings = EdgeSettings(
        kiosk_id=KIOSK,
        site_id=SITE,
        broker_host="localhost",
        broker_port=plant.broker.port,
        ca_file=identity.ca_path,
        cert_file=identity.cert_path,
        key_file=identity.key_path,
        keepalive_s=2,
        telemetry_interval_s=0.5,
        state_dir=tmp_path / "kiosk" / "state",
        session_dir=tmp_path / "kiosk" / "sessions",
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
        clock_sync_wait_s=0,
        calls=False,
    )
    started = time.perf_counter()
    kiosk = Supervisor(settings, kiosk_limits(coturn))
    try:

        async def online() -> bool:
            async with transaction(sessions) as db:
                row = await db.get(Kiosk, KIOSK, populate_existing=True)
                return row is not None and row.status == "online"

        await until(online)
        timings["kiosk online"] = time.perf_counter() - started

        # Not open yet: a resident's call is ended at once, nobody is rung.
        _, action, reason = await call_up(plant.broker, identity)
        assert (action, reason) == ("ended", "no_operator")

        # --- check ---------------------------------------------------------------------
        started = time.perf_counter()
        checked = await plant.madoguchi("site", "check", SITE, "--timeout", "120", token=plant.tech)
        timings["check"] = time.perf_counter() - started
        assert checked.exit_code == 0, checked.output
        assert "PASS" in checked.output and f"{KIOSK}: PASSED" in checked.output
        assert "ok   turn" in checked.output and "ok   broker_tls" in checked.output
        assert f"{SITE}: checked" in checked.output

        # A network too slow for calls (here: a round trip bound no network meets) fails a
        # new test; the newest test failing keeps the checked site shut until one passes.
        detour_started = time.perf_counter()
        kiosk.agent.site_check_limits = kiosk.limits.model_copy(update={"rtt_max_ms": 0.001})
        failed = await plant.madoguchi("site", "check", SITE, "--timeout", "120", token=plant.tech)
        assert failed.exit_code == 1, failed.output
        assert "FAIL control_plane_rtt" in failed.output and "cannot open" in failed.output
        refused = await plant.madoguchi("site", "open", SITE, token=plant.tech)
        assert refused.exit_code == 3, refused.output
        assert f"the newest connection test of site {SITE}" in refused.output
        assert "failed" in refused.output
        kiosk.agent.site_check_limits = kiosk.limits
        again = await plant.madoguchi("site", "check", SITE, "--timeout", "120", token=plant.tech)
        assert again.exit_code == 0, again.output

        # A passing test that has grown too old is refused too (the bound is a setting).
        sites_settings = cloud.app.state.settings.sites
        sites_settings.check_max_age = timedelta(0)
        stale = await plant.madoguchi("site", "open", SITE, token=plant.tech)
        assert stale.exit_code == 3 and "is older than 0:00:00" in stale.output
        sites_settings.check_max_age = timedelta(hours=24)
        detours = time.perf_counter() - detour_started

        # --- open ----------------------------------------------------------------------
        started = time.perf_counter()
        opened = await plant.madoguchi("site", "open", SITE, token=plant.tech)
        timings["open"] = time.perf_counter() - started
        assert opened.exit_code == 0, opened.output
        assert f"{SITE}: open" in opened.output

        # The calendar (alerts, uptime, staffing) now has the site open on its schedule:
        # inside a period's hours, and not the day after the drive.
        hours = OpeningHours()
        async with transaction(sessions) as db:
            await hours.refresh(db=db, now=datetime.now(UTC))
        assert hours(SITE, datetime(2026, 12, 11, 3, 0, tzinfo=UTC))  # 12:00 JST
        assert not hours(SITE, datetime(2026, 12, 14, 3, 0, tzinfo=UTC))

        # A call is routable now: it rings the available operator.
        operator = await available_operator(cloud)
        started = time.perf_counter()
        # (With an operator free it rings at once: no queue message, and no `ended`.)
        call_id, action, _ = await call_up(plant.broker, identity, listen_s=0.5)
        assert action != "ended"

        async def rung() -> bool:
            async with transaction(sessions) as db:
                call = await db.get(CallRecord, call_id, populate_existing=True)
                return call is not None and call.state == "ringing"

        await until(rung)
        timings["call rings"] = time.perf_counter() - started
        async with transaction(sessions) as db:
            call = await db.get(CallRecord, call_id)
            assert call is not None and call.site_id == SITE
            assert call.operator_id == operator.id

        # --- close ---------------------------------------------------------------------
        leftover = kiosk.agent.session_files.root / "left-by-a-crash"
        leftover.mkdir(parents=True)
        (leftover / "photo.jpg").write_bytes(b"\xff\xd8 not a real photo")
        started = time.perf_counter()
        closed = await plant.madoguchi("site", "close", SITE, token=plant.tech)
        timings["close"] = time.perf_counter() - started
        assert closed.exit_code == 0, closed.output
        assert f"{SITE}: closed" in closed.output
        assert "broker reload: done" in closed.output
        serial = format(identity.certificate().serial_number, "x")
        assert f"{KIOSK}: certificates revoked: {serial}" in closed.output

        async def wiped() -> bool:
            async with transaction(sessions) as db:
                command = await db.scalar(
                    select(KioskCommand).where(
                        KioskCommand.kiosk_id == KIOSK, KioskCommand.name == "restart_agent"
                    )
                )
                done = command is not None and command.state == "succeeded"
            return done and kiosk.restarts >= 1 and not leftover.exists()

        await until(wiped)
        # After the CRL reload, the broker refuses the kiosk's certificate.
        assert not await connects(plant.broker, identity, KIOSK)
        timings["wipe+refusal"] = time.perf_counter() - started
        # A closed site takes no call, whatever the kiosk still sends.
        late_call = CallMessage(
            kiosk_id=KIOSK,
            sent_at=datetime.now(UTC),
            seq=1,
            call_id=uuid.uuid4(),
            action="request",
            terms_version="2026-04",
            privacy_version="2026-04",
        )
        outcome = await cloud.app.state.router.on_kiosk_message(late_call, datetime.now(UTC))
        assert outcome == SITE_NOT_OPEN
    finally:
        await kiosk.stop()

    # --- decommission ------------------------------------------------------------------
    started = time.perf_counter()
    ended = await plant.madoguchi("site", "decommission", SITE)
    timings["decommission"] = time.perf_counter() - started
    assert ended.exit_code == 0, ended.output
    assert f"{SITE}: decommissioned; kiosks: {KIOSK} (decommissioned)" in ended.output
    timings["lifecycle"] = time.perf_counter() - lifecycle_started
    timings["  of which fault detours"] = detours

    async with transaction(sessions) as db:
        site = await db.get(Site, SITE)
        assert site is not None and site.state == "decommissioned"  # kept as a record
    shown = await plant.madoguchi("site", "show", SITE, "--json", token=plant.tech)
    history = [e["to_state"] for e in yaml.safe_load(shown.output)["history"]]
    assert history == [
        "created",
        "provisioned",
        "checked",
        "checked",  # the test passed again after the failed one
        "open",
        "closed",
        "closed",  # the certificates revoked
        "decommissioned",
    ]
    with capsys.disabled():
        # "lifecycle" is the whole run, with the kiosk's start, the call, the waits and the
        # deliberate detours (a failed test, a passing one again, a stale one refused);
        # "wipe+refusal" counts from the close command to the broker refusing the kiosk.
        print("\npop-up lifecycle wall time (s):")
        for phase, seconds in timings.items():
            print(f"  {phase:<25} {seconds:7.2f}")


# --- faults ---------------------------------------------------------------------------------


@pytest.fixture
async def served(sqlite_cloud: Cloud, tmp_path: Path) -> AsyncIterator[Plant]:
    """The control plane without a broker: enough for the refusals."""
    root = FleetCA.create(tmp_path / "root")
    intermediate = root.create_intermediate(tmp_path / "intermediate")
    sqlite_cloud.app.state.enrollment_settings = EnrollmentSettings(
        ca_dir=intermediate.directory, crl_file=tmp_path / "crl.pem"
    )
    sqlite_cloud.app.state.settings.sites.wipe_wait_s = 0.5
    async with serving(sqlite_cloud) as address:
        yield Plant(
            cloud=sqlite_cloud,
            url=f"http://{address}",
            broker=None,  # type: ignore[arg-type]
            root=root,
            crl_file=tmp_path / "crl.pem",
            admin=await sqlite_cloud.token(Role.ADMIN),
            tech=await sqlite_cloud.token(Role.TECH),
        )


async def enroll_cli(plant: Plant, token: str, out: Path) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "edge",
            "enroll",
            "--url",
            plant.url,
            "--kiosk-id",
            KIOSK,
            "--token",
            token,
            "--out",
            str(out),
        ],
    )


async def test_a_token_reused_or_expired_is_refused(served: Plant, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    created = await served.madoguchi(
        "site", "create", str(site_file(tmp_path)), "--tokens-out", str(tokens)
    )
    assert created.exit_code == 0, created.output
    token = yaml.safe_load(tokens.read_text())[KIOSK]
    assert (await enroll_cli(served, token, tmp_path / "first")).exit_code == 0
    reused = await enroll_cli(served, token, tmp_path / "second")
    assert reused.exit_code != 0 and "already been used" in reused.output
    assert not (tmp_path / "second" / "kiosk.crt").exists()

    other = site_file(tmp_path, "popup-later", ("popup-later-01",))
    later_tokens = tmp_path / "later.yaml"
    assert (
        await served.madoguchi("site", "create", str(other), "--tokens-out", str(later_tokens))
    ).exit_code == 0
    async with transaction(served.cloud.app.state.sessions) as db:
        await db.execute(
            update(EnrollmentToken)
            .where(EnrollmentToken.kiosk_id == "popup-later-01")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    late = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            *("edge", "enroll", "--url", served.url, "--kiosk-id", "popup-later-01"),
            *("--token", yaml.safe_load(later_tokens.read_text())["popup-later-01"]),
            *("--out", str(tmp_path / "late")),
        ],
    )
    assert late.exit_code != 0 and "expired" in late.output
    # The site cannot become provisioned without that kiosk's certificate.
    provision = await served.madoguchi(
        "site",
        "provision",
        "popup-later",
        "--inventory-only",
        "--inventory",
        str(tmp_path / "i.yaml"),
    )
    assert provision.exit_code == 0
    assert "popup-later: created; waiting for enrollment of popup-later-01" in provision.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(colour="blue"), f"{SITE}.yaml: colour: unknown field"),
        (
            lambda d: d["schedule"]["periods"].append(
                {"first": "2026-12-13", "last": "2026-12-15"}
            ),
            "schedule: overlapping periods",
        ),
        (
            lambda d: d["kiosks"].append({"kiosk_id": KIOSK, "hostname": "192.168.8.99"}),
            f"kiosks: kiosk listed twice: {KIOSK}",
        ),
    ],
)
async def test_a_bad_site_file_registers_nothing(
    served: Plant, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    path = site_file(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    refused = await served.madoguchi("site", "create", str(path))
    assert refused.exit_code == 2 and message in refused.output
    assert "nothing registered" in refused.output
    listed = await served.cloud.client.get(
        "/api/sites", headers={"Authorization": f"Bearer {served.tech}"}
    )
    assert listed.json() == []


async def test_a_kiosk_in_two_sites_is_refused(served: Plant, tmp_path: Path) -> None:
    first = await served.madoguchi("site", "create", str(site_file(tmp_path)))
    assert first.exit_code == 0, first.output
    second = await served.madoguchi(
        "site", "create", str(site_file(tmp_path, "popup-other", (KIOSK,)))
    )
    assert second.exit_code == 3
    assert f"kiosks already in another site: {KIOSK} (site {SITE})" in second.output


async def test_open_without_a_passing_check_and_close_twice(served: Plant, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    created = await served.madoguchi(
        "site", "create", str(site_file(tmp_path)), "--tokens-out", str(tokens)
    )
    assert created.exit_code == 0, created.output
    assert (
        await enroll_cli(served, yaml.safe_load(tokens.read_text())[KIOSK], tmp_path / "k")
    ).exit_code == 0
    opened = await served.madoguchi("site", "open", SITE, token=served.tech)
    assert opened.exit_code == 3
    assert f"cannot open site {SITE}: it is created (needs checked)" in opened.output
    # Checked needs a connection test that passed: there is none.
    checked = await served.cloud.client.post(
        f"/api/sites/{SITE}/provisioned", headers={"Authorization": f"Bearer {served.tech}"}
    )
    assert checked.status_code == 200
    refused = await served.cloud.client.post(
        f"/api/sites/{SITE}/checked", headers={"Authorization": f"Bearer {served.tech}"}
    )
    assert refused.status_code == 409 and "no connection test yet" in refused.text

    closed = await served.madoguchi("site", "close", SITE, token=served.tech)
    assert closed.exit_code == 0, closed.output
    again = await served.madoguchi("site", "close", SITE, token=served.tech)
    assert again.exit_code == 3
    assert f"cannot close site {SITE}: it is closed" in again.output
