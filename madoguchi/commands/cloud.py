"""`madoguchi cloud …`: the control plane."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cloud.settings import CloudSettings

app = typer.Typer(help="The control plane.", no_args_is_help=True)


def _settings() -> CloudSettings:
    from pydantic import ValidationError

    from cloud.settings import CloudSettings

    try:
        return CloudSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        typer.echo(f"control plane settings are not valid: {problems}", err=True)
        raise typer.Exit(2) from None


@app.command("serve")
def serve(log_level: str = typer.Option("INFO", help="Log level")) -> None:
    """Run the control plane (MADOGUCHI_CLOUD_* settings)."""
    import uvicorn

    from cloud.app import create_app
    from madoguchi.logs import configure_logging

    configure_logging(level=log_level)
    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=True,
    )


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option(help="Log-in name")],
    role: Annotated[str, typer.Option(help="admin, operator, support, tech or city")],
    display_name: Annotated[str, typer.Option(help="Name shown to residents and staff")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Create a staff account in the configured database (the password is never an argument)."""
    from cloud.auth.models import Role
    from cloud.auth.passwords import WeakPasswordError
    from cloud.auth.service import UsernameTakenError
    from cloud.auth.service import create_user as create
    from madoguchi.commands.database import in_transaction

    try:
        role_value = Role(role)
    except ValueError:
        typer.echo(
            f"unknown role '{role}': use one of {', '.join(r.value for r in Role)}", err=True
        )
        raise typer.Exit(2) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = _settings()

    try:
        in_transaction(
            settings.database_url,
            lambda db: create(
                db=db,
                username=username,
                password=password,
                role=role_value,
                display_name=display_name,
            ),
        )
    except (WeakPasswordError, UsernameTakenError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {username} ({role_value.value})")


@app.command("login")
def login(
    url: Annotated[str, typer.Option(help="Control plane URL, e.g. http://127.0.0.1:8000")],
    username: Annotated[str, typer.Option(help="Log-in name")],
) -> None:
    """Log in and save the token for later commands (MADOGUCHI_PASSWORD or a prompt)."""
    from urllib.parse import urlsplit

    import httpx

    from madoguchi.commands.kiosks import response_detail
    from madoguchi.credentials import Credentials, save

    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        typer.echo(f"not a control plane URL: {url} (e.g. https://cloud.example.jp)", err=True)
        raise typer.Exit(2)
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        # Still allowed (a lab network), but the password crosses the wire in clear.
        typer.echo(f"warning: {url} is not HTTPS; the password is sent unencrypted", err=True)
    password = os.environ.get("MADOGUCHI_PASSWORD") or typer.prompt("password", hide_input=True)
    try:
        response = httpx.post(
            f"{url}/api/auth/login",
            json={"username": username, "password": password},
            timeout=15,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach the control plane at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"log-in refused: {response_detail(response)}", err=True)
        raise typer.Exit(1)
    try:
        token = str(response.json()["token"])
    except (ValueError, KeyError, TypeError):
        typer.echo(f"{url} did not answer like a madoguchi control plane", err=True)
        raise typer.Exit(1) from None
    path = save(Credentials(url, token))
    typer.echo(f"logged in as {username}; token saved to {path}")


@app.command("roles")
def roles_command(
    out: Annotated[Path | None, typer.Option("--out", help="Write the table here")] = None,
) -> None:
    """The endpoint × role table, read from the routes (docs/roles.md is this output)."""
    from cloud.app import create_app
    from cloud.roles import markdown
    from cloud.settings import BrokerSettings, CloudSettings

    table = markdown(create_app(CloudSettings(mqtt=BrokerSettings(enabled=False))))
    if out is None:
        typer.echo(table, nl=False)
    else:
        out.write_text(table, encoding="utf-8")
        typer.echo(str(out))
