"""`madoguchi report …`: reports for the city."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Reports for the city.", no_args_is_help=True)


@app.command("uptime")
def uptime_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    sites_dir: Annotated[Path | None, typer.Option(help="Site schedules (YAML)")] = None,
) -> None:
    """Uptime of each window against the opening hours, with the outages and their causes,
    from the control plane's database (MADOGUCHI_CLOUD_DATABASE_URL)."""
    from cloud.calendar.schedule import UnknownSiteError
    from cloud.reports.service import as_json as report_json
    from cloud.reports.service import uptime_report
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        typer.echo("--from and --to must be dates as YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    if first > last:
        typer.echo("--from must not be after --to", err=True)
        raise typer.Exit(2)
    try:
        report = in_transaction(
            CloudSettings().database_url,
            lambda db: uptime_report(
                db=db, site_id=site, start=first, end=last, sites_dir=sites_dir
            ),
        )
    except UnknownSiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report_json(report), ensure_ascii=False, indent=1))
        return

    def percent(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    typer.echo(
        f"{site} {first}〜{last}: 開設 {report.scheduled_minutes:.0f} 分, "
        f"稼働率 {percent(report.ratio)}"
    )
    for window in report.windows:
        typer.echo(
            f"  {window.kiosk_id}: {window.serviceable_minutes:.0f} / "
            f"{window.scheduled_minutes:.0f} 分 ({percent(window.ratio)})"
        )
        for outage in window.outages:
            typer.echo(
                f"    停止 {outage.start:%m-%d %H:%M}〜{outage.end:%H:%M} "
                f"({outage.minutes:.0f} 分) {outage.cause}"
            )
