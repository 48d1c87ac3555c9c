"""`madoguchi edge …`: the kiosk agent."""

from __future__ import annotations

import asyncio

import typer

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
    asyncio.run(run_forever(settings))
