"""`madoguchi cloud …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="cloud", no_args_is_help=True)
