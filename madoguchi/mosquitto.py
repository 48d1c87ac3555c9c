"""Run Mosquitto as a child process with a generated configuration (demo and tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class BrokerNotFoundError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


class MosquittoProcess:
    """A Mosquitto child process; `stop()` and `start()` again keep the same port."""

    def __init__(self, config_path: Path, port: int, *, log_path: Path) -> None:
        self.config_path = config_path
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        found = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if found is None:
            raise BrokerNotFoundError(
                "mosquitto is not installed: run `make setup` (Debian package mosquitto)"
            )
        return found

    def start(self, *, timeout: float = 10.0) -> None:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [self.executable(), "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout=timeout, process=self._process)
        except (RuntimeError, TimeoutError) as exc:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mosquitto did not start: {exc}\n{tail}") from exc

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("mosquitto is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
