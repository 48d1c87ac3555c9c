"""`madoguchi kiosks …`: the fleet, from a running control plane."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    import httpx

    from madoguchi.credentials import Credentials

app = typer.Typer(help="The kiosk fleet (from a running control plane).", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="MADOGUCHI_URL",
        help="Control plane URL (default: the one saved by `madoguchi cloud login`)",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def target(url: str | None) -> Credentials:
    """The server to ask and the token to show it. A token is sent only to the server that
    issued it: with `--url`, it comes from MADOGUCHI_TOKEN or from credentials saved for that
    same URL, never from another server's saved log-in."""
    from madoguchi.credentials import Credentials, load

    saved = load()
    if url is None:
        if saved is None:
            _fail(
                "not logged in: run `madoguchi cloud login` "
                "(or set MADOGUCHI_URL and MADOGUCHI_TOKEN)",
                2,
            )
        return saved
    url = url.rstrip("/")
    token = os.environ.get("MADOGUCHI_TOKEN") or (
        saved.token if saved is not None and saved.url == url else None
    )
    if not token:
        _fail(
            f"no token for {url}: run `madoguchi cloud login --url {url} --username …` "
            "or set MADOGUCHI_TOKEN",
            2,
        )
    return Credentials(url, token)


def response_detail(response: httpx.Response) -> str:
    """The server's own explanation (FastAPI's `detail`), or the status line."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code} {response.reason_phrase}"


def get(path: str, *, url: str | None = None) -> Any:
    """GET a control-plane API path as JSON; every failure ends the command with a sentence
    that says what to do, never a traceback."""
    import httpx

    credentials = target(url)
    try:
        response = httpx.get(
            f"{credentials.url}{path}",
            timeout=15,
            headers={"Authorization": f"Bearer {credentials.token}"},
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        _fail(f"cannot reach the control plane at {credentials.url}: {exc}")
    if response.status_code == 401:
        _fail(
            f"the control plane at {credentials.url} refused the token (expired, revoked or "
            "issued elsewhere): log in again with `madoguchi cloud login`"
        )
    if response.status_code == 403:
        _fail(f"your account may not do this: {response_detail(response)}")
    if not response.is_success:
        _fail(f"the control plane at {credentials.url} answered: {response_detail(response)}")
    try:
        return response.json()
    except ValueError:
        _fail(f"{credentials.url} did not answer like a madoguchi control plane (not JSON)")


def _local_time(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _peripherals(items: list[dict[str, Any]] | None) -> str:
    """`ok` devices are counted; the others are named, so a problem stands out."""
    items = items or []
    ok = sum(1 for p in items if p.get("status") == "ok")
    others = [f"{p.get('name')}={p.get('status')}" for p in items if p.get("status") != "ok"]
    simulated = " (simulated)" if any(p.get("simulated") for p in items) else ""
    return " ".join([f"{ok}/{len(items)} ok", *others]) + simulated


def render_table(kiosks: list[dict[str, Any]]) -> str:
    headers = ("KIOSK", "SITE", "STATE", "LAST SEEN", "AGENT", "PERIPHERALS")
    rows = [
        (
            str(k.get("kiosk_id", "-")),
            str(k.get("site_id") or "-"),
            str(k.get("status") or "-"),
            _local_time(k.get("last_seen_at")),
            str(k.get("agent_version") or "-"),
            _peripherals(k.get("peripherals")),
        )
        for k in kiosks
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


@app.command("list")
def list_kiosks(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array")] = False,
    url: UrlOption = None,
) -> None:
    """Every kiosk with its state, site, last contact, versions and peripherals."""
    kiosks = get("/api/kiosks", url=url)
    if as_json:
        typer.echo(json.dumps(kiosks, ensure_ascii=False, indent=2))
        return
    if not kiosks:
        typer.echo("no kiosk has reported yet")
        return
    typer.echo(render_table(kiosks))
