"""`madoguchi training`: scripted calls from a simulated training kiosk (see
madoguchi/training.py and docs/operations.md, "Training mode")."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Training mode: scripted calls for new operators.", no_args_is_help=True)


@app.command("list")
def list_scenarios() -> None:
    """The scenarios, with what the trainee should see."""
    from madoguchi.training import SCENARIOS

    for s in SCENARIOS.values():
        typer.echo(f"{s.name:20} {s.title_ja}: {s.expect_ja}")


@app.command("run")
def run(
    scenario: Annotated[str, typer.Option(help="card_nearly_locked, no_form, ...")],
    state_dir: Annotated[Path, typer.Option(help="The demo's state (its CA)")] = Path(".demo"),
    broker_host: Annotated[str, typer.Option()] = "localhost",
    broker_port: Annotated[int, typer.Option(help="The broker's TLS port")] = 18883,
    kiosk_id: Annotated[str, typer.Option(help="The training kiosk's id")] = "training-01",
    site_id: Annotated[str, typer.Option()] = "city-hall",
) -> None:
    """Start a simulated training kiosk (the real agent) for SCENARIO, register it as a
    training kiosk with the saved administrator's token, and make it call an operator in
    研修モード. Runs until Ctrl-C."""
    from madoguchi.credentials import load
    from madoguchi.logs import configure_logging
    from madoguchi.training import run_standalone
    from madoguchi.training import scenario as find

    try:
        chosen = find(scenario)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    credentials = load()
    if credentials is None:
        typer.echo("no saved credentials: run `madoguchi demo` or log in first", err=True)
        raise typer.Exit(2)
    configure_logging(level="INFO")
    typer.echo(f"{chosen.name}: {chosen.title_ja}\n  expect: {chosen.expect_ja}")
    typer.echo("  take the call in the operator console with 研修モード on")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_standalone(
            chosen,
            state_dir=state_dir,
            broker_host=broker_host,
            broker_port=broker_port,
            kiosk_id=kiosk_id,
            site_id=site_id,
            url=credentials.url,
            token=credentials.token,
            stop=stop,
        )

    asyncio.run(main())
