"""`madoguchi edge …`."""

from __future__ import annotations

import typer

app = typer.Typer(help="edge", no_args_is_help=True)
