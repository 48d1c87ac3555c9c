"""`madoguchi demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer


def run_demo(
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its CA, database and kiosk state")
    ] = Path(".demo"),
    http_port: Annotated[int, typer.Option(help="Control plane HTTP port")] = 8000,
    broker_port: Annotated[
        int, typer.Option(help="Broker TLS port (another free one if taken)")
    ] = 18883,
    log_level: Annotated[str, typer.Option(help="Log level of the JSON logs on stderr")] = "INFO",
) -> None:
    """Run a broker, the control plane and two simulated city-hall kiosks on embedded
    defaults (SQLite, a Mosquitto child process with generated TLS config and ACL)."""
    from madoguchi import demo
    from madoguchi.logs import configure_logging

    configure_logging(level=log_level)
    asyncio.run(demo.run(state_dir, http_port=http_port, broker_port=broker_port))
