"""`madoguchi bench …`: benchmarks that print a ratio against a peer run alongside."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks (each prints a ratio against a peer).", no_args_is_help=True)


@app.command("protocol")
def protocol(messages: int = typer.Option(20_000, min=100, help="Messages per round")) -> None:
    """Strict message decoding against plain json.loads."""
    from bench.protocol_decode import run

    typer.echo(run(messages).report())
