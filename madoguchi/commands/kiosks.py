"""`madoguchi kiosks …`: the fleet, from a running control plane."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

app = typer.Typer(help="The kiosk fleet (from a running control plane).", no_args_is_help=True)


def get(path: str) -> Any:
    import httpx

    from madoguchi.credentials import load

    credentials = load()
    if credentials is None:
        typer.echo(
            "not logged in: run `madoguchi cloud login` (or set MADOGUCHI_URL and MADOGUCHI_TOKEN)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        response = httpx.get(
            f"{credentials.url}{path}",
            timeout=15,
            headers={"Authorization": f"Bearer {credentials.token}"},
        )
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach the control plane at {credentials.url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code in (401, 403):
        typer.echo("the control plane refused the saved token: log in again", err=True)
        raise typer.Exit(1)
    response.raise_for_status()
    return response.json()


@app.command("list")
def list_kiosks(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array")] = False,
) -> None:
    """Every kiosk with its state, site, last contact and versions."""
    kiosks = get("/api/kiosks")
    if as_json:
        typer.echo(json.dumps(kiosks, ensure_ascii=False, indent=2))
        return
    if not kiosks:
        typer.echo("no kiosk has reported yet")
        return
    typer.echo(f"{'KIOSK':<20} {'SITE':<14} {'STATE':<8} {'LAST SEEN':<26} AGENT")
    for k in kiosks:
        typer.echo(
            f"{k['kiosk_id']:<20} {k['site_id']:<14} {k['status']:<8} "
            f"{k['last_seen_at']:<26} {k['agent_version']}"
        )
