"""`madoguchi provision …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="provision", no_args_is_help=True)
