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
    processes: int = typer.Option(1, min=1, max=16, help="Simulator processes"),
) -> None:
    """Telemetry ingested end to end into VictoriaMetrics against a raw paho subscriber."""
    import asyncio

    from bench.fleet import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(asyncio.run(run(kiosks, seconds, ramp=ramp, processes=processes)).report())


@app.command("routing")
def routing(
    kiosks: int = typer.Option(1000, min=1, max=100_000, help="Call requests (one per kiosk)"),
    operators: int = typer.Option(50, min=1, max=5000, help="Operators taking calls"),
    rate: float = typer.Option(100.0, min=1, help="Requests per second"),
    handle: float = typer.Option(0.2, min=0, help="Seconds each call takes"),
    database_url: str = typer.Option(
        None, help="PostgreSQL URL (postgresql+asyncpg://…); default a temporary SQLite"
    ),
) -> None:
    """Call request → operator ringing through the database router, against a naive
    in-memory queue on the same arrivals."""
    import asyncio

    from bench.routing import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    result = asyncio.run(
        run(
            kiosks=kiosks,
            operators=operators,
            rate=rate,
            handle_s=handle,
            database_url=database_url,
        )
    )
    typer.echo(result.report())


@app.command("call")
def call(
    calls: int = typer.Option(3, min=1, max=50, help="Calls set up one after another"),
    frames: int = typer.Option(150, min=10, help="Camera frames read back per call"),
) -> None:
    """Accept → first frame, glass-to-glass latency and kiosk CPU, against aiortc's plain
    loopback."""
    import asyncio

    from bench.call import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(asyncio.run(run(calls=calls, frames=frames)).report())


@app.command("report")
def report(
    sites: int = typer.Option(50, min=1, max=500, help="Sites, each with a year of records"),
    month: str = typer.Option("2026-10", help="The month reported, YYYY-MM"),
    database_url: str = typer.Option(
        None, help="PostgreSQL URL (postgresql+asyncpg://…); default a temporary SQLite"
    ),
) -> None:
    """A month's report for every site from a year of records, against a plain SQL count."""
    import asyncio

    from bench.report import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(asyncio.run(run(sites=sites, month=month, database_url=database_url)).report())


@app.command("replay")
def replay(
    hours: float = typer.Option(24.0, min=0.1, help="How long the kiosk was offline"),
    interval: float = typer.Option(10.0, min=0.1, help="Its telemetry interval, seconds"),
    pace: float = typer.Option(50.0, min=1, help="Replay pace (the agent's replay_rate_per_s)"),
) -> None:
    """A day's offline backlog replayed and stored, against the broker's unpaced ceiling."""
    import asyncio

    from bench.replay import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(asyncio.run(run(hours=hours, interval_s=interval, pace=pace)).report())


@app.command("photo")
def photo(
    frames: int = typer.Option(60, min=5, max=2000, help="1280x720 frames per round"),
) -> None:
    """Face-photo guidance and compliance checks per second on one core, against a bare face
    detection on the same frames."""
    from bench.photo import run

    typer.echo(run(frames).report())


@app.command("form")
def form(
    forms: int = typer.Option(100, min=5, max=2000, help="Synthetic forms in the set"),
    seed: int = typer.Option(1, help="Seed of the random tilts, shading and IDs"),
) -> None:
    """Application-ID reads per second and success rate on warped, shaded forms, against
    zxing-cpp called directly on the same images."""
    from bench.form import run
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    typer.echo(run(forms=forms, seed=seed).report())
