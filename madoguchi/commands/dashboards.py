"""`madoguchi dashboards …`: Grafana dashboards as code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)


@app.command("build")
def build_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for JSON and provisioning")],
    victoria_metrics_url: Annotated[
        str, typer.Option(help="The data source URL written into the provisioning file")
    ] = "http://127.0.0.1:8428",
) -> None:
    """Write the dashboards' JSON and Grafana provisioning files (data source, dashboards,
    alert rules)."""
    from dashboards.build import build

    for path in build(out, victoria_metrics_url=victoria_metrics_url):
        typer.echo(str(path))


@app.command("push")
def push_command(
    url: Annotated[str, typer.Option(help="Grafana URL")],
    folder_uid: Annotated[str | None, typer.Option(help="Folder to put them in")] = None,
) -> None:
    """Create or update the dashboards in a running Grafana (token from GRAFANA_TOKEN)."""
    from dashboards.push import push

    token = os.environ.get("GRAFANA_TOKEN")
    if not token:
        typer.echo("set GRAFANA_TOKEN to a Grafana service-account token", err=True)
        raise typer.Exit(2)
    for uid in push(url, token, folder_uid=folder_uid):
        typer.echo(f"pushed {uid}")
