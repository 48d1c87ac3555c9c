"""Run VictoriaMetrics as a child process (tests and benchmarks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from madoguchi.mosquitto import wait_for_port


class VictoriaMetricsNotFoundError(RuntimeError):
    pass


class VictoriaMetricsProcess:
    """A VictoriaMetrics that accepts influxdb-client's `/api/v2/write`."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("victoria-metrics")
        if binary is None:
            raise VictoriaMetricsNotFoundError(
                "victoria-metrics is not installed: run `make setup` (Debian package)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "victoria-metrics.log").open("ab")
        self._process = subprocess.Popen(
            [
                binary,
                f"-storageDataPath={self.directory / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                # Same series and timestamp = same reading: a replayed duplicate is one sample.
                "-dedup.minScrapeInterval=1ms",
                "-search.latencyOffset=0s",
                "-retentionPeriod=10y",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port("127.0.0.1", self.port, timeout=30, process=self._process)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(30)
        self._process = None

    def export(self, selector: str) -> list[dict[str, object]]:
        """Every raw sample of the matching series (after flushing what is in memory)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()  # noqa: S310
        query = urllib.parse.urlencode({"match[]": selector})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=60) as reply:  # noqa: S310
            return [json.loads(line) for line in reply.read().decode().splitlines() if line]
