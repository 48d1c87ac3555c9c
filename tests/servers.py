"""Real servers for the tests, started on free loopback ports in temporary directories.

A server the machine lacks makes the tests that need it fail loudly with the command that
installs it; nothing is skipped silently.
"""

from __future__ import annotations

import getpass
import glob
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cloud.turn.credentials import TurnSettings
from madoguchi.mosquitto import BrokerNotFoundError, MosquittoProcess, free_port, wait_for_port
from madoguchi.victoria import VictoriaMetricsNotFoundError
from madoguchi.victoria import VictoriaMetricsProcess as VictoriaMetrics
from provisioning.broker import BrokerFiles, render_acl, render_config, write_broker_files
from provisioning.ca import FleetCA, IssuedCertificate


class MissingServerError(RuntimeError):
    pass


@dataclass
class Broker:
    """A real Mosquitto with TLS, client certificates and the generated ACL."""

    ca: FleetCA
    directory: Path
    process: MosquittoProcess
    host: str = "localhost"
    _certs: dict[str, IssuedCertificate] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_path

    @property
    def cloud_cert(self) -> tuple[Path, Path]:
        if "cloud.madoguchi" not in self._certs:
            self._certs["cloud.madoguchi"] = self.ca.issue_cloud(self.directory / "clients")
        issued = self._certs["cloud.madoguchi"]
        return issued.cert_path, issued.key_path

    def kiosk_cert(self, kiosk_id: str) -> tuple[Path, Path]:
        if kiosk_id not in self._certs:
            self._certs[kiosk_id] = self.ca.issue_kiosk(kiosk_id, self.directory / "clients")
        issued = self._certs[kiosk_id]
        return issued.cert_path, issued.key_path

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process.start()

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing is answered, as
        when a site's uplink silently drops packets."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    @property
    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")


def start_broker(directory: Path) -> Broker:
    try:
        MosquittoProcess.executable()
    except BrokerNotFoundError as exc:
        raise MissingServerError(str(exc)) from exc
    ca = FleetCA.create(directory / "ca")
    port = free_port()
    config = write_broker_files(
        ca, directory / "broker", port=port, bind_address="127.0.0.1", run_as_user=getpass.getuser()
    )
    process = MosquittoProcess(config, port, log_path=directory / "mosquitto.log")
    process.start()
    return Broker(ca=ca, directory=directory, process=process)


def start_crl_broker(ca: FleetCA, directory: Path, crl_file: Path) -> MosquittoProcess:
    """A Mosquitto whose TLS listener checks client certificates against `crl_file` (the
    revocation tests; the session `broker` fixture reads no CRL)."""
    directory.mkdir(parents=True)
    server = ca.issue_server(directory)
    (directory / "acl").write_text(render_acl(), encoding="utf-8")
    port = free_port()
    config = directory / "mosquitto.conf"
    files = BrokerFiles(
        ca_file=ca.cert_path,
        cert_file=server.cert_path,
        key_file=server.key_path,
        acl_file=directory / "acl",
        crl_file=crl_file,
    )
    config.write_text(
        render_config(
            files=files, port=port, bind_address="127.0.0.1", run_as_user=getpass.getuser()
        ),
        encoding="utf-8",
    )
    process = MosquittoProcess(config, port, log_path=directory / "mosquitto.log")
    process.start()
    return process


def _postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise MissingServerError(
        "PostgreSQL is not installed: run `make setup` (Debian package postgresql)"
    )


@dataclass
class Postgres:
    """A real PostgreSQL cluster made with initdb in a temporary directory."""

    bindir: Path
    directory: Path
    port: int
    run_as: list[str]
    _databases: int = 0

    def url(self, database: str = "postgres", *, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout

    def create_database(self) -> str:
        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl("-o", options, "-l", str(self.directory / "postgres.log"), "-w", "start")
        wait_for_port("127.0.0.1", self.port, timeout=30)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")


def start_postgres() -> Postgres:
    bindir = _postgres_bindir()
    # PostgreSQL refuses to run as root; CI runs as root, so run it as the postgres user.
    directory = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres", group="postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(directory / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = Postgres(bindir=bindir, directory=directory, port=free_port(), run_as=run_as)
    server.start()
    return server


def start_victoria_metrics(directory: Path) -> VictoriaMetrics:
    server = VictoriaMetrics(directory, free_port())
    try:
        server.start()
    except VictoriaMetricsNotFoundError as exc:
        raise MissingServerError(str(exc)) from exc
    return server


class Xvfb:
    """A real X server in memory: the kiosk's display for Chromium and the screen track."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        self._size = f"{width}x{height}x24"
        self._process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> None:
        executable = shutil.which("Xvfb")
        if executable is None:
            raise MissingServerError(
                "Xvfb is not installed: run `make setup` (Debian package xvfb)"
            )
        read_fd, write_fd = os.pipe()
        self._process = subprocess.Popen(
            [
                executable,
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                self._size,
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        if not number:
            self.stop()
            raise MissingServerError("Xvfb did not report its display number")
        self.display = f":{number}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


class Coturn:
    """A real coturn (`turnserver`) on free loopback ports, checking ephemeral credentials
    (`use-auth-secret`) with a secret made per session, with a TLS listener for
    `turns:` and every private range denied as a peer except 127.0.0.1 (the tests' own
    peers)."""

    realm = "madoguchi.test"

    def __init__(self, directory: Path) -> None:
        import secrets

        self.directory = directory
        self.secret = secrets.token_urlsafe(32)
        self.port = free_port()
        self.tls_port = free_port()
        self.log_path = directory / "turnserver.log"
        ca = FleetCA.create(directory / "ca")
        self.ca_file = ca.cert_path
        self._tls = ca.issue_server(directory / "tls", names=("localhost", "127.0.0.1"))
        self.config_path = directory / "turnserver.conf"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        found = shutil.which("turnserver") or (
            "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
        )
        if found is None:
            raise MissingServerError(
                "coturn is not installed: run `make setup` (Debian package coturn)"
            )
        return found

    @property
    def udp_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def tcp_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=tcp"

    @property
    def tls_url(self) -> str:
        return f"turns:127.0.0.1:{self.tls_port}?transport=tcp"

    def turn_settings(self, *, ttl_s: int = 3600) -> TurnSettings:
        from pydantic import SecretStr

        return TurnSettings(
            urls=[self.udp_url, self.tls_url], secret=SecretStr(self.secret), ttl_s=ttl_s
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's throwaway CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _write_config(self) -> None:
        from cloud.turn.peer_policy import denied_peer_ranges

        # Relay ports: a window of 200 above a free port; coturn retries another on a clash.
        relay_low = 20000 + free_port() % 40000
        lines = [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={self.port}",
            f"tls-listening-port={self.tls_port}",
            f"min-port={relay_low}",
            f"max-port={relay_low + 200}",
            f"cert={self._tls.cert_path}",
            f"pkey={self._tls.key_path}",
            "no-dtls",  # only TURN over TLS/TCP is used; DTLS would need a free UDP port too
            "no-rfc5780",  # would open the alternate ports listening-port+1
            "no-tlsv1",
            "no-tlsv1_1",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            f"realm={self.realm}",
            "fingerprint",
            "stale-nonce=600",
            "no-multicast-peers",
            "no-cli",
            "allow-loopback-peers",  # denied below, except 127.0.0.1 itself
            "allowed-peer-ip=127.0.0.1",
            *(f"denied-peer-ip={r}" for r in denied_peer_ranges()),
            f"userdb={self.directory / 'turndb'}",
            f"pidfile={self.directory / 'turnserver.pid'}",
            f"log-file={self.log_path}",
            "simple-log",
            "no-stdout-log",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        self.config_path.chmod(0o600)

    def start(self) -> None:
        self._write_config()
        self._process = start_turnserver(
            self.config_path, (self.port, self.tls_port), log_path=self.log_path
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""


def start_turnserver(
    config: Path, ports: tuple[int, ...], *, log_path: Path
) -> subprocess.Popen[bytes]:
    """`turnserver -c config`, once it listens on every TCP port in `ports`."""
    process = subprocess.Popen(
        [Coturn.executable(), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in ports:
            wait_for_port("127.0.0.1", port, timeout=15, process=process)
    except (RuntimeError, TimeoutError) as exc:
        process.kill()
        process.wait(10)
        log = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
        raise MissingServerError(f"turnserver did not start: {exc}\n{log}") from exc
    return process


def start_coturn(directory: Path) -> Coturn:
    server = Coturn(directory)
    server.start()
    return server
