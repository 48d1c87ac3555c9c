"""`madoguchi calendar …`: opening days and hours per site, and the closures city staff record.

Closures live in the control plane's database (`MADOGUCHI_CLOUD_DATABASE_URL`), the same
records the API and the alerts use. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cloud.calendar.days import Closure
    from cloud.calendar.schedule import SiteSchedule

app = typer.Typer(help="Opening days and hours per site.", no_args_is_help=True)

MAX_RANGE_DAYS = 3 * 366

SitesDir = Annotated[
    Path | None, typer.Option("--sites-dir", help="Site schedules (YAML) besides the built-in")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


def _range(start: str, end: str) -> tuple[date, date]:
    first, last = _date(start, "--from"), _date(end, "--to")
    if first > last:
        raise _fail("--from must not be after --to")
    if (last - first).days > MAX_RANGE_DAYS:
        raise _fail(f"at most {MAX_RANGE_DAYS} days at a time")
    return first, last


def _site(site: str, sites_dir: Path | None) -> SiteSchedule:
    from cloud.calendar.schedule import InvalidSiteError, UnknownSiteError, load_site

    try:
        return load_site(site, sites_dir=sites_dir)
    except (UnknownSiteError, InvalidSiteError) as exc:
        raise _fail(str(exc)) from None


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

    first, last = _range(start, end)
    schedule = _site(site, sites_dir)
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
        raise _fail(f"{name} must be a time as HH:MM, not {value!r}") from None


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
    from cloud.calendar.schedule import InvalidSiteError, UnknownSiteError
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
    except (UnknownSiteError, InvalidSiteError, ClosureError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"recorded: {site} {when} {_span(start, end)} {reason.strip()}")


@app.command("closures")
def closures_command(
    site: Annotated[str, typer.Option("--site", help="Site id")],
    start: Annotated[str, typer.Option("--from", help="First date, YYYY-MM-DD")] = "",
    end: Annotated[str, typer.Option("--to", help="Last date, YYYY-MM-DD")] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array, one object per closure")
    ] = False,
    sites_dir: SitesDir = None,
) -> None:
    """The closures recorded for a site (all of them unless --from/--to), oldest date first."""
    from cloud.calendar.service import closure_rows
    from madoguchi.commands.database import in_transaction

    _site(site, sites_dir)  # an unknown site is an error, not an empty list
    first = _date(start, "--from") if start else date.min
    last = _date(end, "--to") if end else date.max
    if first > last:
        raise _fail("--from must not be after --to")
    url = _database_url()
    rows = (
        []
        if url is None
        else in_transaction(
            url, lambda db: closure_rows(db=db, site_id=site, start=first, end=last)
        )
    )
    listed = [
        {
            "date": row.date.isoformat(),
            "from": row.from_time.strftime("%H:%M") if row.from_time else None,
            "until": row.until_time.strftime("%H:%M") if row.until_time else None,
            "reason": row.reason,
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at.isoformat(),
        }
        for row in rows
    ]
    if as_json:
        typer.echo(json.dumps(listed, ensure_ascii=False, indent=1))
        return
    if not listed:
        typer.echo(f"no closures recorded for {site}")
    for row in rows:
        when = row.recorded_at.isoformat(timespec="minutes")
        span = _span(row.from_time, row.until_time)
        typer.echo(f"{row.date}  {span}  {row.reason}  ({row.recorded_by}, {when})")


def _span(from_time: time | None, until_time: time | None) -> str:
    """終日 for a whole day, else "15:00–", "–13:00" or "12:00–14:00"."""
    if from_time is None and until_time is None:
        return "終日"
    left = from_time.strftime("%H:%M") if from_time else ""
    right = until_time.strftime("%H:%M") if until_time else ""
    return f"{left}–{right}"
