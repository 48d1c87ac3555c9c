"""`madoguchi bench …`: benchmarks that print a ratio against a peer run alongside."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks (each prints a ratio against a peer).", no_args_is_help=True)


@app.command("protocol")
def protocol(messages: int = typer.Option(20_000, min=100, help="Messages per round")) -> None:
    """Strict message decoding against plain json.loads."""
    from bench.protocol_decode import run

    typer.echo(run(messages).report())


@app.command("fleet")
def fleet(
    kiosks: int = typer.Option(200, "--kiosks", min=1, max=5000, help="Simulated kiosks"),
    seconds: float = typer.Option(30.0, "--seconds", min=5, help="Steady-state duration"),
    ramp: float = typer.Option(10.0, help="Seconds over which the kiosks connect"),
) -> None:
    """Telemetry ingested end to end into VictoriaMetrics against a raw paho subscriber."""
    import asyncio

    from bench.fleet import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(asyncio.run(run(kiosks, seconds, ramp=ramp)).report())
