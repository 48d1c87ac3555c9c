"""`madoguchi edge …`: the kiosk agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_RELEASES = Path("/opt/madoguchi/releases")
app = typer.Typer(help="The kiosk agent.", no_args_is_help=True)


@app.command("run")
def run(
    log_level: str = typer.Option("INFO", help="Log level"),
) -> None:
    """Run the agent, configured by MADOGUCHI_EDGE_* environment variables."""
    from pydantic import ValidationError

    from edge.agent import run_forever
    from edge.settings import EdgeSettings
    from madoguchi.logs import configure_logging

    configure_logging(level=log_level)
    try:
        settings = EdgeSettings()
    except ValidationError as exc:
        missing = ", ".join(
            "MADOGUCHI_EDGE_" + str(e["loc"][0]).upper() + f" ({e['msg']})"
            for e in exc.errors(include_input=False)
        )
        typer.echo(f"edge agent configuration is incomplete: {missing}", err=True)
        raise typer.Exit(2) from None
    code = asyncio.run(run_forever(settings))
    if code:
        raise typer.Exit(code)


@app.command("launch")
def launch_command(
    releases: Annotated[Path, typer.Option(help="Installed releases")] = DEFAULT_RELEASES,
    log_level: Annotated[str, typer.Option(help="Log level")] = "INFO",
) -> None:
    """Run and supervise the current release (the systemd service): restarts it when it asks,
    rolls an update back when the new release fails its health check."""
    from pydantic import ValidationError

    from edge.settings import EdgeSettings
    from edge.updates import launch
    from madoguchi.logs import configure_logging

    configure_logging(level=log_level)
    try:
        state_dir = EdgeSettings().state_dir
    except ValidationError:
        typer.echo("edge agent configuration is incomplete (MADOGUCHI_EDGE_*)", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(launch(releases, state_dir))
