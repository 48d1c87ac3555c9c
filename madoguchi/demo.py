"""`make demo`: a broker, the control plane and two simulated city-hall kiosks, on the
embedded defaults (SQLite, a Mosquitto child process with the generated TLS config and ACL).

Everything lives in one state directory (default `.demo/`): the demo CA, certificates, the
SQLite database, the kiosks' counters and the demo login. Running it again reuses them.

The kiosks' peripherals (`madoguchi.demo_peripherals`): a sample portrait as the face camera, a
synthetic application form as the stand scanner, and a fake My Number Card on each kiosk's
virtual card reader (a private pcscd).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import structlog
import uvicorn
from fastapi import FastAPI

from cloud.app import create_app
from cloud.auth.models import Role
from cloud.auth.service import ensure_user, issue_token
from cloud.db.engine import transaction
from cloud.settings import BrokerSettings, CloudSettings
from edge.agent import KioskAgent
from edge.settings import EdgeSettings
from madoguchi.credentials import Credentials
from madoguchi.credentials import save as save_credentials
from madoguchi.demo_peripherals import DEMO_APPLICATION_ID, LOW_USER_AUTH_TRIES, DemoPeripherals
from madoguchi.demo_peripherals import start as start_peripherals
from madoguchi.mosquitto import MosquittoProcess, free_port
from provisioning.broker import write_broker_files
from provisioning.ca import FleetCA
from provisioning.sites import SITES_DIR, load_site_file

log = structlog.get_logger("demo")

# The demo's site and its two windows come from the site file, as a real site's would.
_DEMO_SITE_FILE = load_site_file(SITES_DIR / "city-hall.yaml")
DEMO_SITE = _DEMO_SITE_FILE.site_id
DEMO_KIOSKS = _DEMO_SITE_FILE.kiosk_ids
DEMO_ADMIN = "demo-admin"
DEMO_OPERATOR = "demo-operator"
DEMO_CITY = "demo-city"
DEMO_SUPPORT = "demo-support"
DEMO_OPERATOR_NAME = "デモ オペレーター"
RESIDENT_PORTS = (8081, 8082)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    operator_password: str


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_login(state_dir: Path) -> DemoLogin:
    """The demo administrator: a random password made on the first run, kept 0600."""
    path = state_dir / "demo-login.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    login = DemoLogin(
        DEMO_ADMIN,
        data.get("password") or secrets.token_urlsafe(12),
        data.get("operator_password") or secrets.token_urlsafe(12),
    )
    if data.get("operator_password") != login.operator_password:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "username": login.username,
                    "password": login.password,
                    "operator_password": login.operator_password,
                },
                handle,
            )
    return login


def start_broker(state_dir: Path, ca: FleetCA, preferred_port: int) -> MosquittoProcess:
    port = preferred_port if port_is_free(preferred_port) else free_port()
    config = write_broker_files(
        ca,
        state_dir / "broker",
        port=port,
        bind_address="127.0.0.1",
        run_as_user=getpass.getuser(),
    )
    broker = MosquittoProcess(config, port, log_path=state_dir / "mosquitto.log")
    broker.start()
    return broker


def kiosk_settings(
    state_dir: Path,
    ca: FleetCA,
    kiosk_id: str,
    broker_port: int,
    resident_port: int = 0,
    *,
    camera: str = "test-pattern",
    document_camera: str | None = None,
    card_reader: str | None = None,
) -> EdgeSettings:
    issued = ca.issue_kiosk(kiosk_id, state_dir / "kiosks" / kiosk_id)
    return EdgeSettings(
        kiosk_id=kiosk_id,
        site_id=DEMO_SITE,
        broker_host="localhost",
        broker_port=broker_port,
        ca_file=ca.cert_path,
        cert_file=issued.cert_path,
        key_file=issued.key_path,
        keepalive_s=10,
        telemetry_interval_s=5.0,
        state_dir=state_dir / "kiosks" / kiosk_id,
        clock_sync_wait_s=0,  # simulated kiosks on this host share its clock
        resident_port=resident_port,
        camera=camera,
        document_camera=document_camera,
        card_reader=card_reader,
        # With an X display the operator sees the real screen; without one, a test pattern.
        screen_capture="x11" if os.environ.get("DISPLAY") else "test-pattern",
        microphone="tone",
    )


async def _seed_last_month(app: FastAPI) -> None:
    """A simulated past month for the city's report page (once the kiosks are registered)."""
    from cloud.fleet.models import Kiosk
    from madoguchi.demo_data import previous_month, seed_month

    for _ in range(100):
        async with transaction(app.state.sessions) as db:
            known = [await db.get(Kiosk, kiosk_id) for kiosk_id in DEMO_KIOSKS]
        if all(known):
            break
        await asyncio.sleep(0.1)
    else:
        return  # the kiosks never registered: the demo runs without the past month
    await seed_month(
        app,
        site_id=DEMO_SITE,
        kiosks=DEMO_KIOSKS,
        month=previous_month(datetime.now(UTC).date()),
        operator=DEMO_OPERATOR,
        support=DEMO_SUPPORT,
    )
    await _seed_service_records(app)


async def _seed_service_records(app: FastAPI) -> None:
    """How the service is run, as the city would find it: the consent texts in force, one
    approved operator manual, last month's report approved with its invoice, and a roster
    for the coming two weeks with one gap. Each seed adds nothing on a restarted demo."""
    from zoneinfo import ZoneInfo

    from cloud.manuals.demo import seed_demo as seed_manual
    from cloud.privacy.demo import seed_demo as seed_consent
    from cloud.reports.approval_demo import seed_demo as seed_approval
    from cloud.shifts.demo import seed_demo as seed_roster

    settings = app.state.settings
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    async with transaction(app.state.sessions) as db:
        await seed_consent(db)
        await seed_manual(db)
        await seed_roster(db, today)
    async with transaction(app.state.sessions) as db:
        await seed_approval(db, billing=settings.billing, sites_dir=settings.calendar.sites_dir)


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop; the demo owns the signals and stops it itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def cloud_settings(state_dir: Path, ca: FleetCA, broker_port: int, http_port: int) -> CloudSettings:
    issued = ca.issue_cloud(state_dir / "cloud")
    return CloudSettings(
        database_url=f"sqlite+aiosqlite:///{(state_dir / 'madoguchi.db').resolve()}",
        http_host="127.0.0.1",
        http_port=http_port,
        mqtt=BrokerSettings(
            enabled=True,
            host="localhost",
            port=broker_port,
            ca_file=ca.cert_path,
            cert_file=issued.cert_path,
            key_file=issued.key_path,
        ),
    )


async def prepare_login(app: FastAPI, settings: CloudSettings, login: DemoLogin) -> Path:
    """Make sure the demo administrator exists and save a CLI token for it."""
    async with transaction(app.state.sessions) as db:
        user = await ensure_user(
            db=db,
            username=login.username,
            password=login.password,
            role=Role.ADMIN,
            display_name="デモ管理者",
        )
        await ensure_user(
            db=db,
            username=DEMO_OPERATOR,
            password=login.operator_password,
            role=Role.OPERATOR,
            display_name=DEMO_OPERATOR_NAME,
        )
        # City staff and support staff share the operator's demo password.
        await ensure_user(
            db=db,
            username=DEMO_CITY,
            password=login.operator_password,
            role=Role.CITY,
            display_name="デモ 市職員",
        )
        await ensure_user(
            db=db,
            username=DEMO_SUPPORT,
            password=login.operator_password,
            role=Role.SUPPORT,
            display_name="デモ 支援員",
        )
        token, _ = await issue_token(db=db, user=user, ttl=settings.token_ttl)
    return save_credentials(Credentials(f"http://127.0.0.1:{settings.http_port}", token))


def prepare(state_dir: Path, broker_port: int) -> tuple[FleetCA, MosquittoProcess]:
    """The demo CA (made once) and a running broker."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = FleetCA.load_or_create(state_dir / "ca")
    return ca, start_broker(state_dir, ca, broker_port)


class KioskPeripherals(TypedDict):
    camera: str
    document_camera: str | None
    card_reader: str | None


def peripheral_settings(peripherals: DemoPeripherals, index: int) -> KioskPeripherals:
    """Kiosk `index`'s cameras (the demo pictures) and its own card reader, if any."""
    readers = peripherals.reader_names
    return KioskPeripherals(
        camera=f"image:{peripherals.face_photo.resolve()}",
        document_camera=f"image:{peripherals.form_photo.resolve()}",
        card_reader=f"pcsc:{readers[index]}" if readers else None,
    )


def cards_banner(peripherals: DemoPeripherals) -> str:
    if not peripherals.reader_names:
        return f"none ({peripherals.card_problem}; run `make setup`)"
    first, second = peripherals.reader_names
    env = " ".join(f"{key}={value}" for key, value in peripherals.env().items())
    return (
        f"{DEMO_KIOSKS[0]}: {first}, {DEMO_KIOSKS[1]}: {second}\n"
        f"                 (private pcscd; PC/SC tools see it with {env})"
    )


async def run(state_dir: Path, *, http_port: int, broker_port: int) -> None:
    ca, broker = await asyncio.to_thread(prepare, state_dir, broker_port)
    peripherals: DemoPeripherals | None = None
    try:
        peripherals = await asyncio.to_thread(start_peripherals, state_dir)
        # Before the first PC/SC call of this process (the agents' card readers):
        # libpcsclite reads the socket path once.
        os.environ.update(peripherals.env())
        settings = cloud_settings(state_dir, ca, broker.port, http_port)
        app = create_app(settings)
        server = EmbeddedServer(
            uvicorn.Config(app, host="127.0.0.1", port=http_port, log_config=None)
        )
        serving = asyncio.create_task(server.serve(), name="http")
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError(f"the control plane did not start on port {http_port}")
            await asyncio.sleep(0.05)
        login = demo_login(state_dir)
        credentials_file = await prepare_login(app, settings, login)
        agents = [
            KioskAgent(
                kiosk_settings(
                    state_dir,
                    ca,
                    kiosk_id,
                    broker.port,
                    port if port_is_free(port) else 0,
                    **peripheral_settings(peripherals, index),
                )
            )
            for index, (kiosk_id, port) in enumerate(zip(DEMO_KIOSKS, RESIDENT_PORTS, strict=True))
        ]
        kiosks = asyncio.gather(*(agent.run() for agent in agents))
        await _seed_last_month(app)
        for _ in range(200):  # free ports are known once the screens listen
            if all(a.resident_screen is None or a.resident_screen.port for a in agents):
                break
            await asyncio.sleep(0.05)
        print(
            BANNER.format(
                url=f"http://127.0.0.1:{http_port}/",
                user=login.username,
                password=login.password,
                operator=DEMO_OPERATOR,
                operator_password=login.operator_password,
                residents="\n                 ".join(
                    f"{agent.settings.kiosk_id}: {agent.resident_screen.url}"
                    for agent in agents
                    if agent.resident_screen is not None
                ),
                broker=broker.port,
                kiosks=", ".join(DEMO_KIOSKS),
                credentials=credentials_file,
                state_dir=state_dir,
                cards=cards_banner(peripherals),
                low_kiosk=DEMO_KIOSKS[1],
                low_tries=LOW_USER_AUTH_TRIES,
                application_id=DEMO_APPLICATION_ID,
            ),
            flush=True,
        )
        await wait_for_stop_signal()
        print(
            "stopping: kiosks say goodbye, then the control plane and the broker stop", flush=True
        )
        for agent in agents:
            agent.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(kiosks, 10)
        server.should_exit = True
        await serving
    finally:
        if peripherals is not None:  # after the agents: their readers watch these cards
            await asyncio.to_thread(peripherals.stop)
        broker.stop()


BANNER = """
madoguchi demo is running
  control plane  {url}
  log in as      {user} / {password}   (administrator)
  operator       {operator} / {operator_password}   (console: {url}operator)
  city, support  demo-city, demo-support (same password; report: {url}reports)
  resident       {residents}
                 (open one in another window, touch はじめる → 同意して進む → 通話する,
                  then answer from the operator console)
  try            in the console, after 応答:
                 カードリーダー: a fake My Number card on each kiosk's reader;
                   {low_kiosk}'s card has {low_tries} try left of the user-authentication PIN
                   (the console says to refer the resident to the city-hall counter)
                 撮影ガイドを表示 / 撮影する: a sample portrait is the face camera
                 申請書を読み取る: a sample form, application ID {application_id} (fake)
  running it     manual & FAQ beside the call (approved v1; city approves new versions at
                 {url}manuals), last month approved with its invoice ({url}reports),
                 the roster and its coverage gaps ({url}shifts), staffing chart
                 ({url}organisation), data inventory ({url}privacy)
  training       madoguchi training list / madoguchi training run --scenario no_form
                 (a training kiosk calls operators in 研修モード only; never counted)
  card readers   {cards}
  broker         mqtts://localhost:{broker} (client certificates, generated ACL)
  kiosks         {kiosks} (site city-hall, simulated peripherals)
  CLI            madoguchi kiosks list --json   (token saved in {credentials})
  state          {state_dir}
Press Ctrl-C to stop.
"""
