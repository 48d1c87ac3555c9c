"""The real servers a benchmark runs against, in a scratch directory."""

from __future__ import annotations

import asyncio
import getpass
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from cloud.settings import BrokerSettings
from madoguchi.mosquitto import MosquittoProcess, free_port
from provisioning.broker import write_broker_files
from provisioning.ca import FleetCA


@dataclass
class BenchBroker:
    ca: FleetCA
    port: int
    process: MosquittoProcess

    def cloud_settings(self, work: Path) -> BrokerSettings:
        """The control plane's link to this broker, with a certificate of its own."""
        cert = self.ca.issue_cloud(work / "cloud")
        return BrokerSettings(
            host="localhost",
            port=self.port,
            ca_file=self.ca.cert_path,
            cert_file=cert.cert_path,
            key_file=cert.key_path,
        )


def start_broker(work: Path) -> BenchBroker:
    """A fleet CA and Mosquitto with its generated TLS configuration and ACL."""
    ca = FleetCA.create(work / "ca")
    port = free_port()
    process = MosquittoProcess(
        write_broker_files(
            ca, work / "broker", port=port, bind_address="127.0.0.1", run_as_user=getpass.getuser()
        ),
        port,
        log_path=work / "mosquitto.log",
    )
    process.start()
    return BenchBroker(ca, port, process)


async def cpu_percent(process: psutil.Process, seconds: float) -> float:
    """CPU `process` uses over the next `seconds`, in percent of one core."""
    before, started = process.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = process.cpu_times(), time.monotonic() - started
    used: float = (after.user - before.user) + (after.system - before.system)
    return 100 * used / elapsed
