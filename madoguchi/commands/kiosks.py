"""`madoguchi kiosks …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="kiosks", no_args_is_help=True)
