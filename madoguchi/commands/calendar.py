"""`madoguchi calendar …`: opening days and hours per site."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cloud.calendar.days import Closure

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
    with_closures: Annotated[
        bool, typer.Option(help="Apply the closures recorded in the control plane's database")
    ] = True,
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
    recorded = _recorded_closures(site, first, last) if with_closures else []
    result = [day.as_json() for day in days(schedule, first, last, recorded)]
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


def _database_url() -> str | None:
    """The control plane's database, or None when the default SQLite file does not exist."""
    from cloud.settings import CloudSettings

    url = CloudSettings().database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        return None
    return url


def _recorded_closures(site: str, first: date, last: date) -> list[Closure]:
    from cloud.calendar.service import closures
    from madoguchi.commands.database import in_transaction

    url = _database_url()
    if url is None:
        return []
    return in_transaction(url, lambda db: closures(db=db, site_id=site, start=first, end=last))


def _time(value: str | None, name: str) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        typer.echo(f"{name} must be a time as HH:MM, not {value!r}", err=True)
        raise typer.Exit(2) from None


@app.command("close")
def close_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    day: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    reason: Annotated[str, typer.Option("--reason", help="Why, e.g. 暴風警報")],
    from_time: Annotated[str | None, typer.Option("--from", help="Closed from HH:MM")] = None,
    until_time: Annotated[str | None, typer.Option("--until", help="Closed until HH:MM")] = None,
    by: Annotated[str, typer.Option("--by", help="Who records it")] = "cli",
    sites_dir: SitesDir = None,
) -> None:
    """Record a closure (whole day, from or until a time, or both) in the control plane's
    database (MADOGUCHI_CLOUD_DATABASE_URL); audited."""
    from cloud.calendar.schedule import UnknownSiteError
    from cloud.calendar.service import ClosureError, add_closure
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    when = _date(day, "--date")
    start, end = _time(from_time, "--from"), _time(until_time, "--until")
    url = CloudSettings().database_url

    try:
        in_transaction(
            url,
            lambda db: add_closure(
                db=db,
                site_id=site,
                day=when,
                reason=reason,
                recorded_by=by,
                from_time=start,
                until_time=end,
                sites_dir=sites_dir,
            ),
        )
    except (UnknownSiteError, ClosureError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    span = f" {from_time or ''}–{until_time or ''}" if (from_time or until_time) else " 終日"
    typer.echo(f"recorded: {site} {when}{span} {reason}")
