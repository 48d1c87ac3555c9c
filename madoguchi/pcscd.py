"""Run a private pcscd with vsmartcard's vpcd reader driver (tests and the demo).

The system's pcscd is left alone:

* its own reader configuration directory (`pcscd -c DIR`) declares only the vpcd driver, on
  free TCP ports (vpcd opens two reader slots, on `port` and `port + 1`);
* its own client socket. pcsc-lite 1.9.9's *daemon* ignores `PCSCLITE_CSOCK_NAME` and always
  uses `/run/pcscd/pcscd.comm` (only the client library reads the variable), so the daemon runs
  in a private mount namespace (`unshare`) where a temporary directory is bind-mounted over
  `/run`. Its socket (and pid file) land in that directory, visible from outside at
  `socket_path`; clients reach it with `PCSCLITE_CSOCK_NAME=socket_path` (`env()`).

Debian's pcscd 1.9.9 is built without polkit, so no `--disable-polkit` is needed (that option
only exists in polkit-enabled builds of pcsc-lite ≥ 2.0.1). As root the namespace is a plain
mount namespace; as another user `unshare --user --map-root-user` makes one.

Caveats: vpcd 3.3 listens on all interfaces (not only loopback), and the private pcscd also
sees USB readers through udev, so do not run it on a kiosk next to the system pcscd.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

VPCD_DRIVER_CANDIDATES = (
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so.0.8",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
)
PCSCD_CANDIDATES = ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd")
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
# vpcd's reader names: "<FRIENDLYNAME> 00 00" for the first slot, "... 00 01" for the second.
FRIENDLY_NAME = "Virtual PCD"


class PcscdNotFoundError(RuntimeError):
    pass


def pcscd_executable() -> str:
    found = shutil.which("pcscd") or next(
        (path for path in PCSCD_CANDIDATES if Path(path).exists()), None
    )
    if found is None:
        raise PcscdNotFoundError("pcscd is not installed: run `make setup` (Debian package pcscd)")
    return found


def vpcd_driver() -> str:
    found = next((path for path in VPCD_DRIVER_CANDIDATES if Path(path).exists()), None)
    if found is None:
        raise PcscdNotFoundError(
            "the vpcd reader driver is not installed: run `make setup` "
            "(Debian package vsmartcard-vpcd)"
        )
    return found


def unshare_executable() -> str:
    found = shutil.which("unshare")
    if found is None:
        raise PcscdNotFoundError("`unshare` (util-linux) is needed to run a private pcscd")
    return found


def free_port_pair() -> int:
    """A port p with p and p + 1 free on all interfaces (vpcd binds 0.0.0.0, both slots)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("0.0.0.0", 0))  # noqa: S104 - probing what vpcd will bind
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("0.0.0.0", port + 1))  # noqa: S104
                except OSError:
                    continue
                return port
    raise RuntimeError("no two consecutive free TCP ports found")


class PcscdProcess:
    """A private pcscd child process with one vpcd reader (two slots).

    `stop()` and `start()` keep the same ports and socket path, so `restart()` looks to a
    client like the reader being unplugged and plugged in again.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        vpcd_port: int | None = None,
        log_path: Path | None = None,
        debug: bool = False,
    ) -> None:
        self.executable = pcscd_executable()
        self.driver = vpcd_driver()
        self._unshare = unshare_executable()
        self.directory = directory or Path(tempfile.mkdtemp(prefix="madoguchi-pcscd-"))
        self.vpcd_port = vpcd_port if vpcd_port is not None else free_port_pair()
        self.log_path = log_path or self.directory / "pcscd.log"
        # Info level shows the driver's "waiting for virtual ICC" lines; never `-a` (APDUs).
        self.debug = debug
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def config_dir(self) -> Path:
        return self.directory / "reader.conf.d"

    @property
    def run_dir(self) -> Path:
        """Bind-mounted over `/run` inside pcscd's namespace."""
        return self.directory / "run"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "pcscd" / "pcscd.comm"

    @property
    def reader_names(self) -> tuple[str, str]:
        return (f"{FRIENDLY_NAME} 00 00", f"{FRIENDLY_NAME} 00 01")

    @property
    def card_ports(self) -> tuple[int, int]:
        """Where a virtual card connects for each reader slot."""
        return (self.vpcd_port, self.vpcd_port + 1)

    def env(self) -> dict[str, str]:
        """The environment a PC/SC client needs to talk to this pcscd."""
        return {SOCKET_ENV: str(self.socket_path)}

    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The vpcd syntax: DEVICENAME "/dev/null:<port>" = listen for the card on <port>
        # (any other host name would make vpcd connect out to a card instead).
        (self.config_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.vpcd_port:04X}\n"
            f"LIBPATH      {self.driver}\n"
            f"CHANNELID    0x{self.vpcd_port:04X}\n"
        )

    def _command(self) -> list[str]:
        namespace = ["--mount", "--propagation", "private"]
        if os.geteuid() != 0:
            namespace = ["--user", "--map-root-user", *namespace]
        level = "-d" if self.debug else "-i"
        # `exec` keeps one process: terminating the Popen terminates pcscd itself.
        script = 'mount --bind "$1" /run && exec "$2" --foreground "$3" --config "$4"'
        return [
            self._unshare,
            *namespace,
            "--",
            "sh",
            "-c",
            script,
            "pcscd-private",
            str(self.run_dir),
            self.executable,
            level,
            str(self.config_dir),
        ]

    def start(self, *, timeout: float = 10.0) -> None:
        if self.running:
            return
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        try:
            self._wait_ready(timeout)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"pcscd did not start: {exc}\n{self.log[-2000:]}") from exc

    def _wait_ready(self, timeout: float) -> None:
        # pcscd loads the readers (vpcd starts listening) before it opens its socket, so a
        # connectable socket means ready. Connecting and closing is harmless to pcscd.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"pcscd exited with code {self._process.returncode}")
            if self.socket_path.exists():
                with socket.socket(socket.AF_UNIX) as probe:
                    try:
                        probe.connect(str(self.socket_path))
                        return
                    except OSError:
                        pass
            time.sleep(0.02)
        raise TimeoutError(f"no pcscd socket at {self.socket_path} after {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop and start again: to clients, the reader was unplugged and plugged back in."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("pcscd is not running")
        return self._process.pid

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> PcscdProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
