"""The pop-up site's connection test on the kiosk, against real servers: Mosquitto with TLS
client certificates, the control plane's probe endpoint behind uvicorn, and coturn checking
ephemeral credentials. Each fault a site can have must show in its own item."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import SecretStr
from typer.testing import CliRunner

from cloud.db.engine import transaction
from cloud.site_checks import service
from cloud.turn.credentials import TurnSettings, ephemeral_credential
from edge.peripherals.registry import PeripheralRegistry
from edge.settings import ALL_PERIPHERALS
from edge.site_check.plan import BrokerTarget, SiteCheckPlan, plan_from_args
from edge.site_check.probe import ProbeSample
from edge.site_check.runner import run_site_check
from edge.site_check.settings import SiteCheckLimits
from madoguchi.cli import app as cli
from madoguchi.mosquitto import free_port
from protocol.v1 import SiteCheckItem, SiteCheckMessage
from provisioning.ca import FleetCA
from provisioning.enrollment import write_crl
from tests.cloud.conftest import Cloud, serving, sqlite_cloud  # noqa: F401 - shared fixture
from tests.edge.helpers import edge_environment, edge_settings
from tests.servers import Broker, Coturn, start_crl_broker

KIOSK = "chk-k1"
MakeToken = Callable[..., Awaitable[str]]


@pytest.fixture
async def probe(sqlite_cloud: Cloud) -> AsyncIterator[tuple[str, MakeToken]]:  # noqa: F811
    """The real control plane over HTTP; and a way to get a probe token the way a run does."""

    async def make_token(kiosk_id: str = KIOSK, *, started: datetime | None = None) -> str:
        async with transaction(sqlite_cloud.app.state.sessions) as db:
            _, dispatches = await service.start_run(
                db=db,
                site_id="city-hall",
                kiosk_ids=[kiosk_id],
                requested_by="tech1",
                peripherals=list(ALL_PERIPHERALS),
                public_url="http://unused.invalid",
                turn=TurnSettings(),
                answer_timeout=timedelta(minutes=5),
                now=started or datetime.now(UTC),
            )
        token = dispatches[0].message.args["probe_token"]
        assert isinstance(token, str)
        return token

    async with serving(sqlite_cloud) as address:
        yield f"http://{address}/api/kiosk-probe", make_token


def target(broker: Broker, kiosk_id: str = KIOSK, **changes: object) -> BrokerTarget:
    cert, key = broker.kiosk_cert(kiosk_id)
    base = BrokerTarget(
        host=broker.host,
        port=broker.port,
        ca_file=broker.ca_file,
        cert_file=cert,
        key_file=key,
        kiosk_id=kiosk_id,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def turn_args(coturn: Coturn, *, secret: str | None = None) -> dict[str, object]:
    settings = TurnSettings(
        urls=[coturn.udp_url, coturn.tls_url], secret=SecretStr(secret or coturn.secret)
    )
    username, password = ephemeral_credential(settings, who=KIOSK, now=datetime.now(UTC))
    return {
        "turn_urls": ",".join(settings.urls),
        "turn_username": username,
        "turn_credential": password,
    }


def limits(coturn: Coturn, **overrides: object) -> SiteCheckLimits:
    values: dict[str, object] = {
        "throughput_bytes": 500_000,
        "turn_ca_file": coturn.ca_file,
        "item_timeout_s": 20.0,
        # Loopback on a shared, busy machine: generous bounds; the tests that flip a verdict
        # use bounds no machine can miss or meet.
        "rtt_max_ms": 5000.0,
        "broker_tls_max_ms": 10_000.0,
        "turn_max_ms": 10_000.0,
        "throughput_min_mbit_s": 0.001,
    }
    values.update(overrides)
    return SiteCheckLimits(**values)  # type: ignore[arg-type]


def by_name(items: tuple[SiteCheckItem, ...]) -> dict[str, SiteCheckItem]:
    return {item.name: item for item in items}


SIMULATED = PeripheralRegistry.declared(ALL_PERIPHERALS, simulate=True)


async def test_every_item_passes_on_a_good_site(
    broker: Broker, coturn: Coturn, probe: tuple[str, MakeToken]
) -> None:
    url, make_token = probe
    plan = plan_from_args(
        {"probe_url": url, "probe_token": await make_token(), **turn_args(coturn)},
        broker=target(broker),
        default_peripherals=ALL_PERIPHERALS,
    )
    started = time.perf_counter()
    items = await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    wall_s = time.perf_counter() - started
    print(f"site check wall time: {wall_s:.2f} s")  # the figure in the report (pytest -s)
    checks = by_name(items)
    assert [item.name for item in items] == [
        "broker_tls",
        "control_plane_rtt",
        "control_plane_throughput",
        "turn",
        "clock",
        *ALL_PERIPHERALS,
    ]
    failing = {item.name: item.detail for item in items if not item.passed}
    assert failing == {}
    for name, unit in (
        ("broker_tls", "ms"),
        ("control_plane_rtt", "ms"),
        ("control_plane_throughput", "Mbit/s"),
        ("turn", "ms"),
        ("clock", "s"),
    ):
        assert checks[name].unit == unit and checks[name].measured is not None, name
        assert checks[name].limit is not None, name
    assert checks["control_plane_throughput"].measured > 0.001  # type: ignore[operator]
    assert "down " in checks["control_plane_throughput"].detail
    # Both relays were allocated: UDP and TURN over TLS.
    assert coturn.udp_url.split("?")[0] in checks["turn"].detail
    assert coturn.tls_url.split("?")[0] in checks["turn"].detail
    # One machine, one clock: the estimate is within its own error bound of zero.
    assert checks["clock"].measured < 0.5  # type: ignore[operator]
    assert "OS NTP sync:" in checks["clock"].detail
    assert "(simulated: no real device)" in checks["card_reader"].detail
    # The report is a valid protocol message.
    SiteCheckMessage(
        kiosk_id=KIOSK,
        sent_at=datetime.now(UTC),
        seq=1,
        command_id=uuid.uuid4(),
        site_id="city-hall",
        passed=True,
        items=items,
    )


async def test_wrong_turn_secret_fails_turn_only(
    broker: Broker, coturn: Coturn, probe: tuple[str, MakeToken]
) -> None:
    url, make_token = probe
    plan = plan_from_args(
        {
            "probe_url": url,
            "probe_token": await make_token(),
            **turn_args(coturn, secret="not-the-secret-of-this-coturn"),
        },
        broker=target(broker),
        default_peripherals=("card_reader",),
    )
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    assert not checks["turn"].passed
    assert "401" in checks["turn"].detail and "credential refused" in checks["turn"].detail
    assert checks["broker_tls"].passed and checks["control_plane_rtt"].passed


async def test_no_turn_relay_given_fails_with_the_reason(broker: Broker, coturn: Coturn) -> None:
    plan = SiteCheckPlan(broker=target(broker), peripherals=())
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    assert not checks["turn"].passed and "no TURN relay" in checks["turn"].detail
    # Without a probe token the control-plane items fail and say why.
    assert not checks["control_plane_rtt"].passed
    assert "no probe URL and token" in checks["control_plane_rtt"].detail
    assert checks["broker_tls"].passed


async def test_broker_unreachable(broker: Broker, coturn: Coturn) -> None:
    closed_port = free_port()  # nothing listens there
    plan = SiteCheckPlan(broker=target(broker, port=closed_port))
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    item = checks["broker_tls"]
    assert not item.passed and item.measured is None
    assert (
        item.detail
        == f"nothing accepts connections at localhost:{closed_port} (connection refused)"
    )


async def test_foreign_certificate_and_foreign_ca(
    broker: Broker, coturn: Coturn, tmp_path: Path
) -> None:
    foreign = FleetCA.create(tmp_path / "foreign-ca")
    stolen = foreign.issue_kiosk(KIOSK, tmp_path / "foreign")
    plan = SiteCheckPlan(
        broker=target(broker, cert_file=stolen.cert_path, key_file=stolen.key_path)
    )
    refused = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    assert not refused["broker_tls"].passed
    assert "refused this kiosk's certificate" in refused["broker_tls"].detail
    # A broker that is not ours (its certificate is not from the fleet CA).
    plan = SiteCheckPlan(broker=target(broker, ca_file=foreign.cert_path))
    impostor = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    assert not impostor["broker_tls"].passed
    assert "did not verify against the fleet CA" in impostor["broker_tls"].detail


async def test_revoked_certificate(broker: Broker, coturn: Coturn, tmp_path: Path) -> None:
    """A Mosquitto of the same fleet CA with a CRL that lists this kiosk's certificate."""
    cert, _ = broker.kiosk_cert("chk-revoked")
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    crl = broker.ca.sign_crl([(serial, dt.datetime.now(dt.UTC))], number=1)
    crl_file = tmp_path / "crl.pem"
    write_crl(crl_file, crl)
    process = start_crl_broker(broker.ca, tmp_path / "crl-broker", crl_file)
    port = process.port
    try:
        revoked = SiteCheckPlan(broker=target(broker, "chk-revoked", port=port))
        still_good = SiteCheckPlan(broker=target(broker, "chk-good", port=port))
        run = limits(coturn)
        bad = by_name(await run_site_check(revoked, limits=run, self_test=SIMULATED.self_test))
        good = by_name(await run_site_check(still_good, limits=run, self_test=SIMULATED.self_test))
    finally:
        process.stop()
    assert not bad["broker_tls"].passed
    assert "revoked" in bad["broker_tls"].detail
    assert good["broker_tls"].passed


async def test_throughput_limit_flips_the_verdict(
    broker: Broker, coturn: Coturn, probe: tuple[str, MakeToken]
) -> None:
    url, make_token = probe
    token = await make_token()  # reusable during the run
    plan = plan_from_args(
        {"probe_url": url, "probe_token": token}, broker=target(broker), default_peripherals=()
    )
    tiny = by_name(
        await run_site_check(
            plan, limits=limits(coturn, throughput_min_mbit_s=0.001), self_test=SIMULATED.self_test
        )
    )
    huge = by_name(
        await run_site_check(
            plan, limits=limits(coturn, throughput_min_mbit_s=1e9), self_test=SIMULATED.self_test
        )
    )
    assert tiny["control_plane_throughput"].passed
    assert not huge["control_plane_throughput"].passed
    assert huge["control_plane_throughput"].limit == 1e9
    assert huge["control_plane_throughput"].measured is not None  # measured, just too slow
    assert tiny["control_plane_rtt"].passed and huge["control_plane_rtt"].passed


async def test_expired_or_foreign_probe_token(
    broker: Broker, coturn: Coturn, probe: tuple[str, MakeToken]
) -> None:
    url, make_token = probe
    expired = await make_token(started=datetime.now(UTC) - timedelta(hours=1))
    plan = plan_from_args(
        {"probe_url": url, "probe_token": expired}, broker=target(broker), default_peripherals=()
    )
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    for name in ("control_plane_rtt", "control_plane_throughput", "clock"):
        assert not checks[name].passed, name
    assert "HTTP 401: this probe token has expired" in checks["control_plane_rtt"].detail
    assert "HTTP 401" in checks["control_plane_throughput"].detail
    # A token is bound to the kiosk it was made for.
    other = await make_token("chk-other")
    plan = plan_from_args(
        {"probe_url": url, "probe_token": other}, broker=target(broker), default_peripherals=()
    )
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=SIMULATED.self_test)
    )
    assert "issued for another kiosk" in checks["control_plane_rtt"].detail


async def test_missing_peripheral_fails_its_item(broker: Broker, coturn: Coturn) -> None:
    only_reader = PeripheralRegistry.declared(("card_reader",), simulate=True)
    plan = SiteCheckPlan(broker=target(broker), peripherals=("card_reader", "headset"))
    checks = by_name(
        await run_site_check(plan, limits=limits(coturn), self_test=only_reader.self_test)
    )
    assert checks["card_reader"].passed
    assert (
        not checks["headset"].passed and checks["headset"].detail == "not installed on this kiosk"
    )


def test_bad_args_are_refused() -> None:
    target_ = BrokerTarget("localhost", 1, Path("a"), Path("b"), Path("c"), KIOSK)
    for args, reason in (
        ({"probe_url": "ftp://x"}, "probe_url must be http(s)"),
        ({"turn_urls": "stun:x:3478"}, "turn_urls must be turn: or turns: URLs"),
        ({"turn_urls": "turn:a,turn:b,turn:c"}, "at most 2 TURN URLs"),
        ({"peripherals": "card_reader,printer"}, "unknown peripherals: printer"),
        ({"probe_token": 5}, "probe_token must be a string"),
    ):
        with pytest.raises(ValueError, match=re.escape(reason)):
            plan_from_args(args, broker=target_, default_peripherals=ALL_PERIPHERALS)


def test_clock_offset_from_four_timestamps() -> None:
    # The server's clock is 10 s ahead; 40 ms out, 60 ms back, 5 ms in the server.
    sample = ProbeSample(t1=100.000, t2=110.040, t3=110.045, t4=100.105)
    assert sample.offset_s == pytest.approx(9.99)
    assert sample.delay_s == pytest.approx(0.100)


async def test_edge_check_command_prints_the_report(
    broker: Broker, coturn: Coturn, probe: tuple[str, MakeToken], state_dir: Path
) -> None:
    url, make_token = probe
    settings = edge_settings(broker, KIOSK, state_dir)
    env = {
        **edge_environment(settings),
        "MADOGUCHI_EDGE_SITE_CHECK_THROUGHPUT_BYTES": "200000",
        "MADOGUCHI_EDGE_SITE_CHECK_THROUGHPUT_MIN_MBIT_S": "0.001",
        "MADOGUCHI_EDGE_SITE_CHECK_RTT_MAX_MS": "5000",
        "MADOGUCHI_EDGE_SITE_CHECK_BROKER_TLS_MAX_MS": "10000",
        "MADOGUCHI_EDGE_SITE_CHECK_TURN_MAX_MS": "10000",
    }
    turn = turn_args(coturn)
    args = [
        "edge",
        "check",
        "--json",
        "--probe-url",
        url,
        "--probe-token",
        await make_token(),
        "--turn-url",
        coturn.udp_url,
        "--turn-username",
        str(turn["turn_username"]),
        "--turn-credential",
        str(turn["turn_credential"]),
        "--peripherals",
        "card_reader,tenkey",
    ]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kiosk_id"] == KIOSK and report["passed"] is True
    assert [item["name"] for item in report["items"]] == [
        "broker_tls",
        "control_plane_rtt",
        "control_plane_throughput",
        "turn",
        "clock",
        "card_reader",
        "tenkey",
    ]
    # Without a probe token: a failing report and exit code 1, saying why.
    failing = await asyncio.to_thread(
        CliRunner().invoke, cli, ["edge", "check", "--peripherals", "card_reader"], env=env
    )
    assert failing.exit_code == 1
    assert "FAIL  control_plane_rtt" in failing.output and "no probe URL" in failing.output
    assert "PASS  broker_tls" in failing.output and failing.output.rstrip().endswith("FAILED")
