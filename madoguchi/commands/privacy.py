"""`madoguchi privacy …`: the retention purge and the data inventory."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="Retention, purge and the data inventory.", no_args_is_help=True)


@app.command("purge")
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what is past retention; delete nothing")
    ] = False,
) -> None:
    """Delete every record past its retention period (MADOGUCHI_CLOUD_DATABASE_URL, periods
    from MADOGUCHI_CLOUD_PRIVACY__RETENTION__*); one audit entry with the counts."""
    from datetime import UTC, datetime

    from cloud.privacy.purge import purge
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    settings = CloudSettings()

    async def work(db):  # type: ignore[no-untyped-def]
        return await purge(
            db=db,
            retention=settings.privacy.retention,
            now=datetime.now(UTC),
            dry_run=dry_run,
            actor="cli",
        )

    report = in_transaction(settings.database_url, work)
    verb = "would delete" if report.dry_run else "deleted"
    for key, count in report.counts.items():
        if count:
            typer.echo(f"{key}: {count}")
    typer.echo(f"{verb} {report.total} records past retention")


@app.command("inventory")
def inventory_command() -> None:
    """The data inventory as JSON: every table, what it holds, how long it is kept."""
    from cloud.privacy.inventory import inventory
    from cloud.settings import CloudSettings

    typer.echo(
        json.dumps(inventory(CloudSettings().privacy.retention), ensure_ascii=False, indent=2)
    )
