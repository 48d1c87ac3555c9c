"""Kiosk identities from the command line.

- `madoguchi edge enroll` (on the kiosk): make the key on the box, send a CSR with the
  one-time token, write `kiosk.key` (0600), `kiosk.crt` and `ca.crt`.
- `madoguchi edge renew` (on the kiosk, from a timer): renew before expiry with a new key.
- `madoguchi kiosks enrollment-token|revoke|decommission` (staff, via the control plane).

`register` adds these to the existing `edge` and `kiosks` groups (one line in `cli.py`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from madoguchi.commands.kiosks import UrlOption, _fail, response_detail, target


def enroll_command(
    url: Annotated[str, typer.Option("--url", help="Control plane URL")],
    token: Annotated[str, typer.Option("--token", envvar="MADOGUCHI_ENROLLMENT_TOKEN")],
    kiosk_id: Annotated[str, typer.Option("--kiosk-id", help="This kiosk's id")],
    out: Annotated[Path, typer.Option("--out", help="Where to write key, cert and CA")],
) -> None:
    """Enroll this kiosk with a one-time token (the key never leaves the box)."""
    from provisioning.kiosk_identity import EnrollFailedError, enroll

    try:
        identity = asyncio.run(enroll(url, token, kiosk_id, out))
    except EnrollFailedError as exc:
        _fail(str(exc))
    typer.echo(
        f"enrolled {kiosk_id}: key {identity.key_path} (0600), certificate "
        f"{identity.cert_path}, CA {identity.ca_path}"
    )


def renew_command(
    url: Annotated[str, typer.Option("--url", help="Control plane URL")],
    directory: Annotated[Path, typer.Option("--dir", help="The kiosk's identity directory")],
    force: Annotated[bool, typer.Option(help="Renew even if not due yet")] = False,
) -> None:
    """Renew the kiosk's certificate once a third of its lifetime is left."""
    from provisioning.kiosk_identity import EnrollFailedError, KioskIdentity, needs_renewal, renew

    if not force and not needs_renewal(KioskIdentity(directory).certificate()):
        typer.echo("not due yet")
        return
    try:
        identity = asyncio.run(renew(url, directory))
    except EnrollFailedError as exc:
        _fail(str(exc))
    typer.echo(f"renewed: {identity.cert_path} (restart the agent to use it)")


def _post(path: str, url: str | None) -> Any:
    import httpx

    credentials = target(url)
    try:
        response = httpx.post(
            f"{credentials.url}{path}",
            timeout=90,
            headers={"Authorization": f"Bearer {credentials.token}"},
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        _fail(f"cannot reach the control plane at {credentials.url}: {exc}")
    if not response.is_success:
        _fail(f"the control plane at {credentials.url} answered: {response_detail(response)}")
    return response.json()


def token_command(kiosk_id: str, url: UrlOption = None) -> None:
    """Make a one-time enrollment token for KIOSK_ID (admin; shown once)."""
    answer = _post(f"/api/kiosks/{kiosk_id}/enrollment", url)
    typer.echo(f"{answer['token']}\n(valid until {answer['expires_at']}, single use)")


def _revocation(answer: dict[str, Any]) -> None:
    serials = ", ".join(answer["revoked"]) or "none left"
    typer.echo(
        f"{answer['kiosk_id']}: {answer['state']}; certificates revoked: {serials}; "
        f"CRL: {answer['crl_file'] or '-'}; broker reload: {answer['broker_reload']}"
    )


def revoke_command(kiosk_id: str, url: UrlOption = None) -> None:
    """Revoke every certificate of KIOSK_ID (a stolen kiosk): CRL written, broker reloaded."""
    _revocation(_post(f"/api/kiosks/{kiosk_id}/revoke", url))


def decommission_command(kiosk_id: str, url: UrlOption = None) -> None:
    """Revoke KIOSK_ID for good: it can never enroll again."""
    _revocation(_post(f"/api/kiosks/{kiosk_id}/decommission", url))


def register(edge_app: typer.Typer, kiosks_app: typer.Typer) -> None:
    edge_app.command("enroll")(enroll_command)
    edge_app.command("renew")(renew_command)
    kiosks_app.command("enrollment-token")(token_command)
    kiosks_app.command("revoke")(revoke_command)
    kiosks_app.command("decommission")(decommission_command)
