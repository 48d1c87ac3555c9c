"""`madoguchi calendar …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="calendar", no_args_is_help=True)
