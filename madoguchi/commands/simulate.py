"""`madoguchi simulate`: N real kiosk agents with simulated peripherals."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from protocol.aio import wait_event


def queued_telemetry(state_dir: Path) -> int:
    """Telemetry an agent kept on disk when it stopped (it is sent on the next start)."""
    from edge.store import DiskQueue
    from protocol.v1.topics import TopicKind

    path = state_dir / "outbox.sqlite3"
    if not path.exists():
        return 0
    queue = DiskQueue(path)
    try:
        return sum(1 for _, item in queue.get_batch(1_000_000) if item.kind is TopicKind.TELEMETRY)
    finally:
        queue.close()


def _simulate_in_processes(processes: int, *, kiosks: int, prefix: str, common: list[str]) -> None:
    """One asyncio process saturates one core: run P children with a share of the kiosks
    each (ids `{prefix}{i}-NNNN`), forward Ctrl-C, and sum their summaries."""
    import subprocess
    import sys

    shares = [kiosks // processes + (1 if i < kiosks % processes else 0) for i in range(processes)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "madoguchi",
                "simulate",
                "--kiosks",
                str(share),
                "--prefix",
                f"{prefix}{index}",
                *common,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for index, share in enumerate(shares)
        if share > 0
    ]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    total: dict[str, int] = {}
    for child in children:
        out, _ = child.communicate()
        summary = json.loads(out.strip().splitlines()[-1])
        for key, value in summary.items():
            total[key] = total.get(key, 0) + int(value)
    total["processes"] = len(children)
    typer.echo(json.dumps(total))


def simulate(
    kiosks: Annotated[int, typer.Option("--kiosks", min=1, max=5000, help="How many")] = 10,
    ca_dir: Annotated[Path, typer.Option(help="Fleet CA (issues the kiosks' certificates)")] = Path(
        ".demo/ca"
    ),
    broker_host: Annotated[str, typer.Option(help="Broker host")] = "localhost",
    broker_port: Annotated[int, typer.Option(help="Broker TLS port")] = 18883,
    site: Annotated[str, typer.Option(help="Site id of the simulated kiosks")] = "popup-sim",
    prefix: Annotated[str, typer.Option(help="Kiosk id prefix")] = "sim",
    interval: Annotated[float, typer.Option(help="Telemetry interval, seconds")] = 1.0,
    seconds: Annotated[float, typer.Option(help="Run this long (0: until Ctrl-C)")] = 0.0,
    ramp: Annotated[float, typer.Option(help="Spread the connections over this many s")] = 5.0,
    state_dir: Annotated[Path, typer.Option(help="Certificates and counters")] = Path(".simulate"),
    log_level: Annotated[str, typer.Option(help="Log level")] = "WARNING",
    processes: Annotated[
        int, typer.Option(min=1, max=64, help="Split the kiosks over this many processes")
    ] = 1,
) -> None:
    """Run N kiosk agents (the real agent code, simulated peripherals) against a broker.
    Prints one JSON line at the end: how many readings each kind of message produced."""
    if processes > 1:
        _simulate_in_processes(
            processes,
            kiosks=kiosks,
            prefix=prefix,
            common=[
                "--ca-dir",
                str(ca_dir),
                "--broker-host",
                broker_host,
                "--broker-port",
                str(broker_port),
                "--site",
                site,
                "--interval",
                str(interval),
                "--seconds",
                str(seconds),
                "--ramp",
                str(ramp),
                "--state-dir",
                str(state_dir),
                "--log-level",
                log_level,
            ],
        )
        return
    from edge.settings import EdgeSettings
    from edge.simulator import Fleet
    from madoguchi.logs import configure_logging
    from protocol.v1.topics import TopicKind
    from provisioning.ca import FleetCA

    configure_logging(level=log_level)
    ca = FleetCA.load(ca_dir)
    settings = []
    for index in range(kiosks):
        kiosk_id = f"{prefix}-{index:04d}"
        directory = state_dir / kiosk_id
        cert = directory / f"{kiosk_id}.crt"
        key = directory / f"{kiosk_id}.key"
        if not cert.exists():
            issued = ca.issue_kiosk(kiosk_id, directory)
            cert, key = issued.cert_path, issued.key_path
        settings.append(
            EdgeSettings(
                kiosk_id=kiosk_id,
                site_id=site,
                broker_host=broker_host,
                broker_port=broker_port,
                ca_file=ca.cert_path,
                cert_file=cert,
                key_file=key,
                telemetry_interval_s=interval,
                state_dir=directory,
                keepalive_s=30,
                reboot_command=("true",),
                clock_sync_wait_s=0,
                calls=False,  # load-test agents: no resident screen, no media
            )
        )

    async def run() -> dict[str, int]:
        fleet = Fleet(settings)
        produced = {"telemetry": 0}
        for agent in fleet.agents:
            original = agent.outbox.put

            def counting(item, original=original):  # type: ignore[no-untyped-def]
                if item.kind is TopicKind.TELEMETRY:
                    produced["telemetry"] += 1
                original(item)

            agent.outbox.put = counting  # type: ignore[method-assign]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        started = time.monotonic()
        await fleet.start(ramp_s=ramp)
        if seconds > 0:
            remaining = seconds - (time.monotonic() - started)
            await wait_event(stop, max(0.0, remaining))
        else:
            await stop.wait()
        connected = fleet.connected()
        stuck = await fleet.stop()
        queued = sum(queued_telemetry(agent.settings.state_dir) for agent in fleet.agents)
        return {
            "kiosks": kiosks,
            "produced_telemetry": produced["telemetry"],
            "still_queued": queued,
            "connected_at_end": connected,
            "stuck_at_stop": stuck,
        }

    typer.echo(json.dumps(asyncio.run(run())))
