"""`madoguchi calendar …`: opening days and hours per site."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Opening days and hours per site.", no_args_is_help=True)

MAX_RANGE_DAYS = 3 * 366

SitesDir = Annotated[
    Path | None, typer.Option("--sites-dir", help="Site schedules (YAML) besides the built-in")
]


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"{name} must be a date as YYYY-MM-DD, not {value!r}", err=True)
        raise typer.Exit(2) from None


@app.command("days")
def days_command(
    site: Annotated[str, typer.Option("--site", help="Site id, e.g. city-hall")],
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD")],
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array, one object per date")
    ] = False,
    sites_dir: SitesDir = None,
) -> None:
    """Each date: open or not, opening and closing time, last reception, and why closed."""
    from cloud.calendar.days import days
    from cloud.calendar.schedule import UnknownSiteError, load_site

    first, last = _date(start, "--from"), _date(end, "--to")
    if first > last:
        typer.echo("--from must not be after --to", err=True)
        raise typer.Exit(2)
    if (last - first).days > MAX_RANGE_DAYS:
        typer.echo(f"at most {MAX_RANGE_DAYS} days at a time", err=True)
        raise typer.Exit(2)
    try:
        schedule = load_site(site, sites_dir=sites_dir)
    except UnknownSiteError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    result = [day.as_json() for day in days(schedule, first, last)]
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    for day in result:
        hours = (
            f"{day['opens']}–{day['closes']} (受付 {day['last_reception']}まで)"
            if day["open"]
            else "休み"
        )
        typer.echo(f"{day['date']}  {hours}  {day['reason'] or ''}".rstrip())
