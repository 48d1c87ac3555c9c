"""`madoguchi audit …`: check the audit log's hash chain, export it for the city."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command() -> None:
    """Recompute the hash chain (MADOGUCHI_CLOUD_DATABASE_URL); exit 1 on the first broken
    link, naming the entry."""
    from cloud.audit.chain import seal, verify
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    async def work(db):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        await seal(db=db, now=now)  # settle what is due first, as the service would
        return await verify(db=db, now=now)

    result = in_transaction(CloudSettings().database_url, work)
    if result.ok:
        typer.echo(f"audit chain intact: {result.sealed} sealed, {result.unsealed} settling")
        return
    typer.echo(
        f"audit chain BROKEN at entry {result.broken_at}: {result.reason} "
        f"({result.sealed} entries verified before it)",
        err=True,
    )
    raise typer.Exit(1)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="JSON Lines file")],
) -> None:
    """Every entry with its chain hash, one JSON object per line (for the city)."""
    from sqlalchemy import select

    from cloud.audit.models import AuditEntry
    from cloud.settings import CloudSettings
    from madoguchi.commands.database import in_transaction

    async def work(db):  # type: ignore[no-untyped-def]
        rows = await db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "detail": r.detail,
                "chain_hash": r.chain_hash,
            }
            for r in rows
        ]

    entries = in_transaction(CloudSettings().database_url, work)
    with out.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    typer.echo(f"{out}: {len(entries)} entries")
