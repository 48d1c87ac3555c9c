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


@app.command("check")
def check(
    probe_url: Annotated[
        str | None, typer.Option(help="The control plane's probe, …/api/kiosk-probe")
    ] = None,
    probe_token: Annotated[
        str | None,
        typer.Option(help="A probe token of a running site check", envvar="MADOGUCHI_PROBE_TOKEN"),
    ] = None,
    turn_url: Annotated[
        list[str] | None, typer.Option(help="turn:/turns: URL (repeatable)")
    ] = None,
    turn_username: Annotated[str | None, typer.Option(help="Ephemeral TURN user name")] = None,
    turn_credential: Annotated[
        str | None, typer.Option(help="Ephemeral TURN password", envvar="MADOGUCHI_TURN_CREDENTIAL")
    ] = None,
    peripherals: Annotated[
        str | None, typer.Option(help="Expected peripherals, comma-separated (default: declared)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """The pop-up site's connection test, run here on the kiosk with the agent's settings
    (MADOGUCHI_EDGE_*) and limits (MADOGUCHI_EDGE_SITE_CHECK_*). Exit code 1 when a check
    fails. Without a probe token the control-plane items fail: the token comes with a check
    started from the control plane."""
    import json

    from pydantic import ValidationError

    from edge.agent import card_reader
    from edge.peripherals.base import PeripheralDriver
    from edge.peripherals.registry import PeripheralRegistry
    from edge.peripherals.tenkey import EvdevTenkey
    from edge.settings import EdgeSettings
    from edge.site_check.report import plan_for
    from edge.site_check.runner import run_site_check
    from edge.site_check.settings import SiteCheckLimits
    from madoguchi.logs import configure_logging

    configure_logging(level="WARNING")
    try:
        settings = EdgeSettings()
        limits = SiteCheckLimits()
    except ValidationError as exc:
        typer.echo(
            f"configuration is incomplete or wrong: {exc.error_count()} problem(s)", err=True
        )
        for error in exc.errors(include_input=False):
            typer.echo(f"  {'.'.join(str(p) for p in error['loc'])}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    args = {
        "probe_url": probe_url,
        "probe_token": probe_token,
        "turn_urls": ",".join(turn_url or []),
        "turn_username": turn_username,
        "turn_credential": turn_credential,
        "peripherals": peripherals,
    }
    try:
        plan = plan_for(settings, args)
    except ValueError as exc:
        typer.echo(f"bad option: {exc}", err=True)
        raise typer.Exit(2) from None
    real: dict[str, PeripheralDriver] = {}
    reader = card_reader(settings)
    if reader is not None:
        real["card_reader"] = reader
    if settings.tenkey:
        real["tenkey"] = EvdevTenkey(settings.tenkey)
    registry = PeripheralRegistry.declared(
        settings.peripherals,
        simulate=settings.simulate_peripherals,
        real=real,  # type: ignore[arg-type]  # keys are peripheral names
    )
    items = asyncio.run(run_site_check(plan, limits=limits, self_test=registry.self_test))
    passed = all(item.passed for item in items)
    if as_json:
        report = {
            "kiosk_id": settings.kiosk_id,
            "site_id": settings.site_id,
            "passed": passed,
            "items": [item.model_dump(mode="json") for item in items],
        }
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"connection test of {settings.kiosk_id} at {settings.site_id}")
        for item in items:
            value = "" if item.measured is None else f"{item.measured:g} {item.unit}"
            bound = "" if item.limit is None else f"(limit {item.limit:g})"
            mark = "PASS" if item.passed else "FAIL"
            typer.echo(f"  {mark}  {item.name:<25} {value:>14} {bound:<16} {item.detail}")
        typer.echo("PASSED" if passed else "FAILED")
    if not passed:
        raise typer.Exit(1)
