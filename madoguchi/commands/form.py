"""`madoguchi form …`: the application form's 2D code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The application form's 2D code (申請書ID).", no_args_is_help=True)


@app.command("read")
def read(
    image: Annotated[Path, typer.Argument(help="A photo or scan of the application form")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Print the form's 23-digit application ID, or why it could not be read (exit 1)."""
    from edge.forms import FormReadError, read_application_id_file
    from madoguchi.logs import configure_logging

    # Logs go to stderr, so stdout is only the answer.
    configure_logging(level="WARNING")
    try:
        application_id = read_application_id_file(image)
    except FormReadError as exc:
        if as_json:
            payload = {"error": exc.code, "message_ja": exc.message_ja}
            typer.echo(json.dumps(payload, ensure_ascii=False))
        else:
            typer.echo(f"{exc.message_ja} ({exc.code}: {exc})", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"application_id": application_id}))
    else:
        typer.echo(application_id)
