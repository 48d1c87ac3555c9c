"""The control-plane roles run for real (local connection, into temporary directories, with
package installs and service management off): what they write works with the real tools."""

from __future__ import annotations

import asyncio
import getpass
import grp
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml

from cloud.auth.models import Role
from cloud.settings import BrokerSettings, CloudSettings
from dashboards.build import build
from madoguchi.mosquitto import free_port, wait_for_port
from provisioning.ca import FleetCA
from tests.cloud.conftest import _running_cloud, serving
from tests.servers import Postgres, start_postgres

ROOT = Path(__file__).resolve().parents[2]


def run_roles(
    tmp_path: Path, roles: list[str], extra: dict[str, Any], *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook` with the given roles against this machine (local connection)."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    playbook_file = tmp_path / "site.yml"
    playbook_file.write_text(
        "- hosts: all\n  gather_facts: false\n  roles: [" + ", ".join(roles) + "]\n"
    )
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert playbook, "ansible-playbook is missing from the environment (dev extra)"
    return subprocess.run(
        [playbook, "-i", str(inventory), str(playbook_file), "-e", json.dumps(extra)],
        env={
            **(env if env is not None else os.environ),
            "ANSIBLE_ROLES_PATH": str(ROOT / "ansible" / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def changed_count(result: subprocess.CompletedProcess[str]) -> int:
    """`changed=N` from the play recap."""
    for line in result.stdout.splitlines():
        if line.startswith("localhost") and "changed=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError(f"no play recap in:\n{result.stdout[-2000:]}")


def _systemd_analyze(unit_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # SYSTEMD_UNIT_PATH: the unit and its drop-ins from unit_dir, the rest from the system.
    return subprocess.run(
        ["systemd-analyze", *args],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def unit_problems(unit_dir: Path, unit: str) -> list[str]:
    """What `systemd-analyze verify` says about `unit` (offline, so lines about the host's
    other units are left out)."""
    verified = _systemd_analyze(unit_dir, "verify", "--man=no", unit)
    return [line for line in verified.stderr.splitlines() if unit in line]


def unit_exposure(unit_dir: Path, unit: str) -> float:
    """`systemd-analyze security`'s overall exposure level of `unit`."""
    analysed = _systemd_analyze(unit_dir, "security", "--offline=true", "--no-pager", unit)
    for line in analysed.stdout.splitlines():
        if line.startswith("→ Overall exposure level"):
            return float(line.split(":")[1].split()[0])
    raise AssertionError(analysed.stdout[-2000:] + analysed.stderr[-2000:])


def task_outcome(result: subprocess.CompletedProcess[str], task: str) -> str:
    """`ok`, `changed`, `skipping` … of the named task in the play's output."""
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("TASK [") and task in line:
            return lines[index + 1].split(":")[0]
    raise AssertionError(f"task {task!r} did not run:\n{result.stdout[-2000:]}")


def psql_tcp(server: Postgres, user: str, password: str, database: str, sql: str) -> str:
    result = subprocess.run(
        [
            *("psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", user, "-d", database),
            *("-w", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise PermissionError(result.stderr.strip())
    return result.stdout.strip()


def test_postgresql_role_makes_a_password_only_database(tmp_path: Path) -> None:
    server = start_postgres()
    data = server.directory / "data"
    try:
        # What Debian's postgresql.conf has and initdb's lacks.
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("include_dir = 'conf.d'\n")
        password = secrets.token_urlsafe(24)
        extra = {
            "postgresql_install_packages": False,
            "postgresql_manage_service": False,
            "postgresql_conf_dir": str(data),
            "postgresql_file_owner": "postgres" if os.geteuid() == 0 else getpass.getuser(),
            "postgresql_listen_addresses": "127.0.0.1",
            "postgresql_port": server.port,
            # The fresh cluster trusts local TCP until the role's pg_hba.conf is loaded.
            "postgresql_admin_become": False,
            "postgresql_admin_host": "127.0.0.1",
        }
        env = {**os.environ, "MADOGUCHI_DB_PASSWORD": password}
        first = run_roles(tmp_path, ["postgresql"], extra, env=env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        second = run_roles(tmp_path, ["postgresql"], extra, env=env)
        assert second.returncode == 0, second.stdout[-3000:]
        assert changed_count(second) == 0, second.stdout[-3000:]
        assert password not in first.stdout + second.stdout

        server.stop()  # what the role's handler does on a real host
        server.start()
        assert psql_tcp(server, "madoguchi", password, "madoguchi", "SELECT current_user") == (
            "madoguchi"
        )
        with pytest.raises(PermissionError, match="password authentication failed"):
            psql_tcp(server, "madoguchi", "wrong-" + password, "madoguchi", "SELECT 1")
        # Nobody else over TCP: not the superuser, not the role on another database.
        with pytest.raises(PermissionError, match=r"no pg_hba\.conf entry"):
            psql_tcp(server, "postgres", "", "postgres", "SELECT 1")
        with pytest.raises(PermissionError, match=r"no pg_hba\.conf entry"):
            psql_tcp(server, "madoguchi", password, "postgres", "SELECT 1")
        stored = psql_tcp(
            server,
            "madoguchi",
            password,
            "madoguchi",
            "SELECT datdba::regrole::text, has_database_privilege('public', 'madoguchi', "
            "'CONNECT') FROM pg_database WHERE datname = 'madoguchi'",
        )
        assert stored == "madoguchi|f"
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def test_victoria_metrics_role_serves_on_localhost_with_its_retention(tmp_path: Path) -> None:
    port = free_port()
    defaults_file = tmp_path / "victoria-metrics"
    extra = {
        "victoria_metrics_install_packages": False,
        "victoria_metrics_manage_service": False,
        "victoria_metrics_defaults_file": str(defaults_file),
        "victoria_metrics_storage_path": str(tmp_path / "data"),
        "victoria_metrics_storage_owner": getpass.getuser(),
        "victoria_metrics_port": port,
        "victoria_metrics_retention": 13,
    }
    first = run_roles(tmp_path, ["victoria_metrics"], extra)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = run_roles(tmp_path, ["victoria_metrics"], extra)
    assert changed_count(second) == 0, second.stdout[-3000:]
    # Start it the way Debian's unit does: ExecStart=/usr/bin/victoria-metrics $ARGS.
    args = subprocess.run(
        ["sh", "-c", f'. "{defaults_file}" && printf "%s" "$ARGS"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    executable = shutil.which("victoria-metrics")
    assert executable, "victoria-metrics is not installed: run `make setup`"
    process = subprocess.Popen(
        [executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30, process=process)
        flags = httpx.get(f"http://127.0.0.1:{port}/flags", timeout=10).text
    finally:
        process.terminate()
        process.wait(30)
    assert "-retentionPeriod=13" in flags.replace('"', "")
    assert f"-httpListenAddr=127.0.0.1:{port}" in flags.replace('"', "")
    assert "-dedup.minScrapeInterval=1ms" in flags.replace('"', "")
    assert (tmp_path / "data" / "data").is_dir()  # it used the role's storage path


def test_grafana_role_provisions_the_dashboards_build(tmp_path: Path) -> None:
    provisioning = tmp_path / "provisioning"
    boards = tmp_path / "dashboards"
    extra = {
        "madoguchi_cli": str(Path(sys.executable).with_name("madoguchi")),
        "grafana_build_dir": str(tmp_path / "build"),
        "grafana_install_packages": False,
        "grafana_manage_service": False,
        "grafana_provisioning_dir": str(provisioning),
        "grafana_dashboards_dir": str(boards),
        "grafana_file_owner": getpass.getuser(),
        "grafana_file_group": grp.getgrgid(os.getgid()).gr_name,
        "grafana_victoria_metrics_url": "http://127.0.0.1:8428",
    }
    first = run_roles(tmp_path, ["grafana"], extra)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = run_roles(tmp_path, ["grafana"], extra)
    assert changed_count(second) == 0, second.stdout[-3000:]

    expected = tmp_path / "expected"
    build(expected, victoria_metrics_url="http://127.0.0.1:8428")
    for kind in ("datasources", "alerting"):
        installed = provisioning / kind / "madoguchi.yaml"
        assert (
            installed.read_bytes()
            == (expected / "provisioning" / kind / "madoguchi.yaml").read_bytes()
        )
    built_boards = sorted(p.name for p in (expected / "dashboards").iterdir())
    assert built_boards and sorted(p.name for p in boards.iterdir()) == built_boards
    for name in built_boards:
        assert (boards / name).read_bytes() == (expected / "dashboards" / name).read_bytes()
    provider = yaml.safe_load((provisioning / "dashboards" / "madoguchi.yaml").read_text())
    built_provider = yaml.safe_load(
        (expected / "provisioning" / "dashboards" / "madoguchi.yaml").read_text()
    )
    # The same provider, reading the dashboards where the role put them.
    assert provider["providers"][0]["options"]["path"] == str(boards)
    built_provider["providers"][0]["options"]["path"] = str(boards)
    assert provider == built_provider


@dataclass
class RenderedProxy:
    main_conf: Path
    https_port: int
    http_port: int
    ca_file: Path


def render_reverse_proxy(tmp_path: Path, upstream: str) -> RenderedProxy:
    """The role, twice (the second run must change nothing), into `tmp_path`, and Debian's
    nginx.conf in miniature around the site it writes."""
    ca = FleetCA.create(tmp_path / "ca")
    tls = ca.issue_server(tmp_path / "issued", names=("localhost", "127.0.0.1"))
    https_port, http_port = free_port(), free_port()
    site = tmp_path / "sites-available" / "madoguchi.conf"
    site.parent.mkdir()
    (tmp_path / "sites-enabled").mkdir()
    extra = {
        "reverse_proxy_install_packages": False,
        "reverse_proxy_manage_service": False,
        "reverse_proxy_disable_default_site": False,
        "reverse_proxy_server_name": "localhost",
        "reverse_proxy_site_path": str(site),
        "reverse_proxy_enabled_link": str(tmp_path / "sites-enabled" / "madoguchi.conf"),
        "reverse_proxy_tls_dir": str(tmp_path / "tls"),
        "reverse_proxy_tls_cert_src": str(tls.cert_path),
        "reverse_proxy_tls_key_src": str(tls.key_path),
        "reverse_proxy_file_owner": getpass.getuser(),
        "reverse_proxy_http_port": http_port,
        "reverse_proxy_https_port": https_port,
        "reverse_proxy_upstream": upstream,
    }
    first = run_roles(tmp_path, ["reverse_proxy"], extra)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = run_roles(tmp_path, ["reverse_proxy"], extra)
    assert changed_count(second) == 0, second.stdout[-3000:]
    assert oct((tmp_path / "tls" / "privkey.pem").stat().st_mode & 0o777) == "0o600"
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/sites-enabled/*.conf;\n}}\n"
    )
    return RenderedProxy(main, https_port, http_port, ca.cert_path)


def nginx_executable() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed: run `make setup` (Debian package nginx-light)")
    return nginx


def start_nginx(nginx: str, proxy: RenderedProxy, prefix: Path) -> subprocess.Popen[bytes]:
    """`nginx -t` on the rendered configuration, then nginx serving it in the foreground."""
    checked = subprocess.run(
        [nginx, "-t", "-p", str(prefix), "-c", str(proxy.main_conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
    process = subprocess.Popen(
        [
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(proxy.main_conf),
            "-g",
            "daemon off; master_process off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", proxy.https_port, timeout=15, process=process)
    return process


async def test_reverse_proxy_role_puts_tls_in_front_of_the_control_plane(tmp_path: Path) -> None:
    nginx = nginx_executable()
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        mqtt=BrokerSettings(enabled=False),
    )
    async for cloud in _running_cloud(settings):
        operator = await cloud.token(Role.OPERATOR)
        async with serving(cloud) as address:
            proxy = await asyncio.to_thread(render_reverse_proxy, tmp_path, f"http://{address}")
            process = await asyncio.to_thread(start_nginx, nginx, proxy, tmp_path)
            try:
                await _check_proxy(proxy, operator)
            finally:
                process.terminate()
                process.wait(15)


async def _check_proxy(proxy: RenderedProxy, operator: str) -> None:
    tls = ssl.create_default_context(cafile=str(proxy.ca_file))
    base = f"https://localhost:{proxy.https_port}"
    async with httpx.AsyncClient(verify=tls) as client:
        health = await client.get(f"{base}/healthz")
        plain = await client.get(f"http://localhost:{proxy.http_port}/healthz")
    assert health.status_code == 200
    assert health.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "server" not in health.headers or "nginx/" not in health.headers["server"]
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://localhost")
    # A TLS 1.2 client (older browsers, kiosks' system libraries) still gets in.
    tls12 = ssl.create_default_context(cafile=str(proxy.ca_file))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection(
        "127.0.0.1", proxy.https_port, ssl=tls12, server_hostname="localhost"
    )
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    writer.close()
    # The operator console's WebSocket passes the proxy (Upgrade/Connection forwarded).
    async with websockets.connect(
        f"wss://localhost:{proxy.https_port}/ws/operator",
        ssl=tls,
        additional_headers={"Authorization": f"Bearer {operator}"},
    ) as socket:
        hello = json.loads(await socket.recv())
    assert hello["type"] == "hello"


def test_control_plane_role_installs_checked_settings_and_migrates(
    tmp_path: Path, postgres: Postgres
) -> None:
    database = postgres.create_database()
    ca = FleetCA.create(tmp_path / "ca")
    etc = tmp_path / "etc"
    units = tmp_path / "units"
    units.mkdir()
    secrets_env = {
        "MADOGUCHI_DB_PASSWORD": secrets.token_urlsafe(24),
        "MADOGUCHI_AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "MADOGUCHI_TURN_SECRET": secrets.token_urlsafe(32),
    }
    extra: dict[str, Any] = {
        "madoguchi_cli": str(Path(sys.executable).with_name("madoguchi")),
        "madoguchi_ca_dir": str(ca.directory),
        "control_plane_build_dir": str(tmp_path / "build"),
        "control_plane_install_venv": False,
        "control_plane_install_packages": False,
        "control_plane_create_user": False,
        "control_plane_manage_service": False,
        "control_plane_user": getpass.getuser(),
        "control_plane_file_owner": getpass.getuser(),
        "control_plane_home": str(tmp_path / "opt"),
        "control_plane_venv": sys.prefix,
        "control_plane_etc_dir": str(etc),
        "control_plane_state_dir": str(tmp_path / "state"),
        "control_plane_unit_dir": str(units),
        "control_plane_db_port": postgres.port,
        "control_plane_db_name": database,
        "control_plane_db_user": "postgres",
        "control_plane_mqtt_host": "broker.madoguchi.test",
        "control_plane_public_host": "turn.madoguchi.test",
        "control_plane_sites_src": str(ROOT / "sites"),
    }
    env = {**os.environ, **secrets_env}
    first = run_roles(tmp_path, ["control_plane"], extra, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert task_outcome(first, "Bring the database to the current schema") == "changed"
    second = run_roles(tmp_path, ["control_plane"], extra, env=env)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]
    assert task_outcome(second, "Bring the database to the current schema") == "ok"
    output = first.stdout + first.stderr + second.stdout + second.stderr
    assert not any(secret in output for secret in secrets_env.values())

    env_file = etc / "control-plane.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert oct((etc / "tls" / "cloud.key").stat().st_mode & 0o777) == "0o600"
    settings = CloudSettings(_env_file=env_file)
    assert settings.environment == "production"
    assert settings.calls.turn.urls == [
        "turns:turn.madoguchi.test:443?transport=tcp",
        "turn:turn.madoguchi.test:3478?transport=udp",
    ]
    assert settings.calls.turn.secret.get_secret_value() == secrets_env["MADOGUCHI_TURN_SECRET"]
    assert settings.mqtt.cert_file == etc / "tls" / "cloud.crt"
    # The schedules are data beside the wheel: the calendar reads the installed copy.
    assert settings.calendar.sites_dir == etc / "sites"
    assert sorted(path.name for path in (etc / "sites").glob("*.yaml")) == sorted(
        path.name for path in (ROOT / "sites").glob("*.yaml")
    )
    # The migration ran against the configured database before any service start.
    assert postgres.psql("SELECT count(*) FROM alembic_version", database).strip() == "1"

    assert unit_problems(units, "madoguchi-control-plane.service") == []
    # systemd's own score of the sandbox (0 best, 10 worst; 1.6 when written).
    assert unit_exposure(units, "madoguchi-control-plane.service") <= 2.0

    # Bad settings are refused before they replace the good ones.
    before = env_file.read_bytes()
    bad = run_roles(
        tmp_path,
        ["control_plane"],
        {**extra, "control_plane_extra_settings": {"NO_SUCH_SETTING": "1"}},
        env=env,
    )
    assert bad.returncode != 0
    assert "no_such_setting" in (bad.stdout + bad.stderr).lower()
    assert env_file.read_bytes() == before


def test_the_control_plane_playbook_runs_every_role_in_order(tmp_path: Path) -> None:
    play = yaml.safe_load((ROOT / "ansible" / "control_plane.yml").read_text())[0]
    # Stores before their users; the proxy last, in front of a service that is up.
    assert play["roles"] == [
        "postgresql",
        "victoria_metrics",
        "grafana",
        "mqtt_broker",
        "coturn",
        "control_plane",
        "reverse_proxy",
    ]
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert playbook
    checked = subprocess.run(
        [
            playbook,
            "--syntax-check",
            "-i",
            "localhost,",
            str(ROOT / "ansible" / "control_plane.yml"),
        ],
        env={**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
