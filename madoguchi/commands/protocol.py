"""`madoguchi protocol …`: the wire contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The kiosk <-> cloud wire contract.", no_args_is_help=True)


@app.command("schema")
def schema(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the JSON Schemas to")],
) -> None:
    """Write the JSON Schema of every message."""
    from protocol.v1.schema import write_json_schemas

    for path in write_json_schemas(out):
        typer.echo(str(path))
