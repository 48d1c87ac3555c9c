"""The coturn role run for real, and the relay it configures checked with a real TURN client
(aioice): ephemeral credentials over UDP and TLS, stale or forged ones refused, private and
loopback peers refused."""

from __future__ import annotations

import asyncio
import getpass
import grp
import os
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from aioice import stun
from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol, create_turn_endpoint
from pydantic import SecretStr

from cloud.turn.credentials import TurnSettings, ephemeral_credential
from cloud.turn.peer_policy import denied_peer_ranges
from madoguchi.mosquitto import free_port
from provisioning.ca import FleetCA
from tests.ansible.test_control_plane_roles import (
    ROOT,
    changed_count,
    run_roles,
    unit_exposure,
    unit_problems,
)
from tests.servers import Coturn, start_turnserver

TurnClient = TurnClientUdpProtocol | TurnClientTcpProtocol


@dataclass
class RenderedRelay:
    """turnserver running on the configuration the role wrote."""

    directory: Path
    config: Path
    port: int
    tls_port: int
    settings: TurnSettings
    ca_file: Path
    log_path: Path

    def credential(self, *, now: datetime | None = None) -> tuple[str, str]:
        return ephemeral_credential(self.settings, who="k-role", now=now or datetime.now(UTC))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def role_vars(directory: Path, port: int, tls_port: int, ca: FleetCA) -> dict[str, object]:
    tls = ca.issue_server(directory / "issued", names=("localhost", "127.0.0.1"))
    relay_low = 20000 + free_port() % 40000
    return {
        "coturn_install_packages": False,
        "coturn_manage_service": False,
        "coturn_harden_unit": True,
        "coturn_systemd_dir": str(directory / "units"),
        "coturn_realm": "turn.madoguchi.test",
        "coturn_conf_path": str(directory / "turnserver.conf"),
        "coturn_tls_dir": str(directory / "tls"),
        "coturn_tls_cert_src": str(tls.cert_path),
        "coturn_tls_key_src": str(tls.key_path),
        "coturn_file_owner": getpass.getuser(),
        "coturn_file_group": grp.getgrgid(os.getgid()).gr_name,
        "coturn_listening_ips": ["127.0.0.1"],
        "coturn_relay_ips": ["127.0.0.1"],
        "coturn_port": port,
        "coturn_tls_port": tls_port,
        "coturn_min_port": relay_low,
        "coturn_max_port": relay_low + 200,
        "coturn_log_file": str(directory / "turnserver.log"),
        "coturn_pidfile": str(directory / "turnserver.pid"),
        "coturn_userdb": str(directory / "turndb"),
    }


@pytest.fixture(scope="module")
def rendered_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderedRelay]:
    directory = tmp_path_factory.mktemp("coturn-role")
    port, tls_port = free_port(), free_port()
    ca = FleetCA.create(directory / "ca")
    extra = role_vars(directory, port, tls_port, ca)
    secret = secrets.token_urlsafe(32)
    # The secret reaches the role the way an operator gives it: the control node's environment.
    env = {**os.environ, "MADOGUCHI_TURN_SECRET": secret}
    first = run_roles(directory, ["coturn"], extra, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = run_roles(directory, ["coturn"], extra, env=env)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]
    assert secret not in first.stdout + second.stdout
    config = directory / "turnserver.conf"
    log_path = directory / "turnserver.log"
    process = start_turnserver(config, (port, tls_port), log_path=log_path)
    try:
        yield RenderedRelay(
            directory=directory,
            config=config,
            port=port,
            tls_port=tls_port,
            settings=TurnSettings(
                urls=[f"turn:127.0.0.1:{port}"], secret=SecretStr(secret), ttl_s=600
            ),
            ca_file=ca.cert_path,
            log_path=log_path,
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def allocate(
    address: tuple[str, int],
    username: str,
    password: str,
    *,
    tls: ssl.SSLContext | None = None,
) -> TurnClient:
    """A TURN allocation over UDP, or over TLS when given a context (raises on refusal)."""
    loop = asyncio.get_running_loop()

    def client(kind: type[TurnClient]) -> TurnClient:
        return kind(
            address, username=username, password=password, lifetime=600, channel_refresh_time=500
        )

    protocol: TurnClient
    transport: asyncio.BaseTransport
    if tls is None:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: client(TurnClientUdpProtocol), remote_addr=address
        )
    else:
        transport, protocol = await loop.create_connection(
            lambda: client(TurnClientTcpProtocol), address[0], address[1], ssl=tls
        )
    try:
        await protocol.connect()
    except BaseException:
        transport.close()
        raise
    return protocol


async def refusal(coroutine: asyncio.Future[object] | object) -> int:
    """The STUN error code a request is refused with."""
    try:
        await coroutine  # type: ignore[misc]
    except stun.TransactionFailed as refused:
        code: int = refused.response.attributes["ERROR-CODE"][0]
        return code
    raise AssertionError("the request was accepted")


async def create_permission(client: TurnClient, peer: str) -> None:
    request = stun.Message(
        message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
    )
    request.attributes["XOR-PEER-ADDRESS"] = (peer, 9)
    await client.request_with_retry(request)


def test_the_denied_ranges_are_the_peer_policy() -> None:
    defaults = yaml.safe_load((ROOT / "ansible/roles/coturn/defaults/main.yml").read_text())
    assert defaults["coturn_denied_peer_ranges"] == denied_peer_ranges()


def test_the_rendered_config_keeps_the_secret_private(rendered_relay: RenderedRelay) -> None:
    assert oct(rendered_relay.config.stat().st_mode & 0o777) == "0o640"
    assert oct((rendered_relay.directory / "tls" / "privkey.pem").stat().st_mode & 0o777) == (
        "0o640"
    )
    log = rendered_relay.log_path.read_text(errors="replace")
    # coturn names every option it does not understand; the role's config has none of them.
    assert "CONFIG ERROR" not in log and "Bad configuration" not in log, log[-2000:]


def test_the_unit_drop_in_sandboxes_debians_coturn(rendered_relay: RenderedRelay) -> None:
    debian_unit = Path("/lib/systemd/system/coturn.service")
    assert debian_unit.exists(), "coturn is not installed: run `make setup`"
    units = rendered_relay.directory / "units"
    assert (units / "coturn.service.d" / "madoguchi.conf").exists()
    bare = rendered_relay.directory / "bare-units"
    bare.mkdir(exist_ok=True)
    for directory in (units, bare):
        shutil.copy(debian_unit, directory / "coturn.service")
    assert unit_problems(units, "coturn.service") == []
    # systemd's score (0 best, 10 worst): Debian's unit alone 9.0 "UNSAFE", with the drop-in
    # 1.7 when written.
    hardened, debian = unit_exposure(units, "coturn.service"), unit_exposure(bare, "coturn.service")
    assert hardened <= 2.5 < debian


def test_a_fresh_credential_allocates_over_udp_and_tls(rendered_relay: RenderedRelay) -> None:
    async def scenario() -> list[tuple[str, int]]:
        username, password = rendered_relay.credential()
        relayed = []
        for address, tls in (
            (("127.0.0.1", rendered_relay.port), None),
            (("127.0.0.1", rendered_relay.tls_port), rendered_relay.ssl_context()),
        ):
            client = await allocate(address, username, password, tls=tls)
            assert client.relayed_address is not None
            relayed.append(client.relayed_address)
            await client.delete()
        return relayed

    relayed = asyncio.run(scenario())
    assert [host for host, _ in relayed] == ["127.0.0.1", "127.0.0.1"]


def test_an_expired_or_forged_credential_is_refused(rendered_relay: RenderedRelay) -> None:
    address = ("127.0.0.1", rendered_relay.port)
    stale = rendered_relay.credential(now=datetime.now(UTC) - timedelta(hours=1))
    forged = ephemeral_credential(
        TurnSettings(
            urls=rendered_relay.settings.urls, secret=SecretStr(secrets.token_urlsafe(32))
        ),
        who="k-role",
        now=datetime.now(UTC),
    )

    async def scenario() -> list[int]:
        return [
            await refusal(allocate(address, *stale)),
            await refusal(allocate(address, *forged)),
            await refusal(
                allocate(
                    ("127.0.0.1", rendered_relay.tls_port),
                    *forged,
                    tls=rendered_relay.ssl_context(),
                )
            ),
        ]

    assert asyncio.run(scenario()) == [401, 401, 401]


def test_private_and_loopback_peers_are_refused(rendered_relay: RenderedRelay) -> None:
    """CreatePermission only installs a permission: nothing is sent to these addresses."""
    peers = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254"]

    async def scenario() -> list[int]:
        client = await allocate(("127.0.0.1", rendered_relay.port), *rendered_relay.credential())
        try:
            return [await refusal(create_permission(client, peer)) for peer in peers]
        finally:
            await client.delete()

    assert asyncio.run(scenario()) == [403] * len(peers)


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]


def test_the_test_relay_reaches_only_its_own_loopback_peer(coturn: Coturn) -> None:
    """The session fixture's relay (what the call and connection tests use) carries data to a
    peer on 127.0.0.1 and to no other private address."""
    settings = coturn.turn_settings()

    async def scenario() -> tuple[bytes, list[int]]:
        loop = asyncio.get_running_loop()
        username, password = ephemeral_credential(settings, who="k-fix", now=datetime.now(UTC))
        peer_transport, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
        peer = peer_transport.get_extra_info("sockname")
        relay, collected = await create_turn_endpoint(
            _Collect,
            ("127.0.0.1", coturn.tls_port),
            username,
            password,
            ssl=coturn.ssl_context(),
            transport="tcp",
        )
        try:
            relay.sendto(b"ping", peer)
            async with asyncio.timeout(10):
                echoed = await collected.received.get()
            client = await allocate(("127.0.0.1", coturn.port), username, password)
            try:
                refused = [
                    await refusal(create_permission(client, other))
                    for other in ("127.0.0.2", "10.0.0.1")
                ]
            finally:
                await client.delete()
        finally:
            relay.close()
            peer_transport.close()
            await asyncio.sleep(0.1)  # let the allocation's deletion go out
        return echoed, refused

    assert asyncio.run(scenario()) == (b"echo:ping", [403, 403])


def test_the_role_refuses_to_run_without_a_secret(tmp_path: Path) -> None:
    ca = FleetCA.create(tmp_path / "ca")
    extra = role_vars(tmp_path, free_port(), free_port(), ca)
    env = {k: v for k, v in os.environ.items() if k != "MADOGUCHI_TURN_SECRET"}
    result = run_roles(tmp_path, ["coturn"], extra, env=env)
    assert result.returncode != 0
    assert "coturn_static_auth_secret is not set" in result.stdout
    assert not (tmp_path / "turnserver.conf").exists()
    assert not (tmp_path / "tls").exists()
    short = run_roles(
        tmp_path, ["coturn"], {**extra, "coturn_static_auth_secret": "short"}, env=env
    )
    assert short.returncode != 0 and not (tmp_path / "turnserver.conf").exists()
