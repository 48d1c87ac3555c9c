"""`madoguchi site …`: a pop-up site from its file to open, and back (staff, via the control
plane; see docs/sites.md).

create → provision → check → open → close → decommission. Every step is a call to
`/api/sites` with the token of `madoguchi cloud login` (or MADOGUCHI_URL/MADOGUCHI_TOKEN).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from madoguchi.commands.kiosks import UrlOption, _fail, response_detail, target

app = typer.Typer(help="Sites and the pop-up lifecycle (from a running control plane).")

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "ansible" / "popup_site.yml"
POLL_S = 1.0
SiteArg = Annotated[str, typer.Argument(help="The site id")]


def _call(method: str, path: str, url: str | None, body: Any = None, timeout: float = 120) -> Any:
    """One API call; a refusal ends the command with the server's own sentence."""
    import httpx

    credentials = target(url)
    try:
        response = httpx.request(
            method,
            f"{credentials.url}{path}",
            json=body,
            timeout=timeout,
            headers={"Authorization": f"Bearer {credentials.token}"},
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        _fail(f"cannot reach the control plane at {credentials.url}: {exc}")
    if response.status_code == 422:
        detail = response.json().get("detail")
        lines = detail if isinstance(detail, list) else [response_detail(response)]
        _fail("refused:\n" + "\n".join(str(line) for line in lines), 2)
    if not response.is_success:
        _fail(f"refused: {response_detail(response)}", 3 if response.status_code == 409 else 1)
    return response.json()


def _write_secret(path: Path, text: str) -> None:
    """Created 0600 (never readable by others, even for a moment); replaces an old file."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _state_line(site: dict[str, Any]) -> str:
    kiosks = ", ".join(
        f"{k['kiosk_id']} ({'enrolled' if k['enrolled'] else k['identity'] or 'no identity'})"
        for k in site["kiosks"]
    )
    return f"{site['site_id']}: {site['state']}; kiosks: {kiosks}"


@app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="The site file, sites/<site-id>.yaml")],
    tokens_out: Annotated[
        Path | None,
        typer.Option(
            "--tokens-out", help="Write the one-time enrollment tokens here (0600), not to screen"
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Validate FILE, register the site and its kiosks, issue one enrollment token per kiosk."""
    import yaml

    from provisioning.sites import SiteFileError, load_site_file

    try:
        site = load_site_file(file)  # the same check as the server's, before anything is sent
    except SiteFileError as exc:
        _fail(f"invalid site file, nothing registered:\n{exc}", 2)
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    answer = _call(
        "POST",
        "/api/sites",
        url,
        {"file_name": file.name, "definition": json.loads(json.dumps(data, default=str))},
    )
    tokens = {t["kiosk_id"]: t["token"] for t in answer["tokens"]}
    expiry = min((t["expires_at"] for t in answer["tokens"]), default="-")
    typer.echo(f"created {site.site_id} ({site.kind}) with {len(tokens)} kiosks")
    if tokens_out is not None:
        _write_secret(tokens_out, yaml.safe_dump(tokens, sort_keys=True))
        typer.echo(f"enrollment tokens (single use, valid until {expiry}): {tokens_out} (0600)")
    else:
        typer.echo(f"enrollment tokens (shown once, single use, valid until {expiry}):")
        for kiosk_id, token in tokens.items():
            typer.echo(f"  {kiosk_id}: {token}")
    typer.echo(f"next: madoguchi site provision {site.site_id} --tokens FILE")


def _site(site_id: str, url: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = _call("GET", f"/api/sites/{site_id}", url)
    return answer


def _try_provisioned(site_id: str, url: str | None, wait_s: float) -> dict[str, Any] | None:
    """Mark the site provisioned once every kiosk has enrolled, waiting up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        site = _site(site_id, url)
        if site["state"] != "created":
            return site
        if all(k["enrolled"] for k in site["kiosks"]):
            answer: dict[str, Any] = _call("POST", f"/api/sites/{site_id}/provisioned", url)
            return answer
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


@app.command("provision")
def provision(
    site_id: SiteArg,
    tokens: Annotated[
        Path | None, typer.Option("--tokens", help="Tokens file from `site create --tokens-out`")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", help="Where to write the inventory (0600)")
    ] = None,
    inventory_only: Annotated[
        bool, typer.Option("--inventory-only", help="Write the inventory, run no playbook")
    ] = False,
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for the kiosks to enroll (default 0, 300 after a run)"),
    ] = None,
    admin_keys: Annotated[
        Path | None,
        typer.Option("--admin-keys", help="authorized_keys file for the maintenance account"),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Write SITE's inventory (with the tokens) and run ansible/popup_site.yml; the site is
    provisioned once every kiosk has enrolled (its certificate is issued)."""
    from provisioning.inventory import (
        build_inventory,
        load_admin_keys,
        load_tokens,
        write_inventory,
    )
    from provisioning.sites import SiteFileError, parse_site_data

    site = _site(site_id, url)
    if site["state"] != "created":
        _fail(f"refused: site {site_id} is {site['state']}, not created", 3)
    try:
        site_file = parse_site_data(site["definition"], Path(f"{site_id}.yaml"))
        issued = load_tokens(tokens) if tokens is not None else {}
        keys = load_admin_keys(admin_keys) if admin_keys is not None else []
        result = build_inventory([site_file], issued, keys)
    except SiteFileError as exc:
        _fail(str(exc), 2)
    except ValueError as exc:
        _fail(str(exc), 2)
    path = inventory or Path(f"inventory-{site_id}.yaml")
    write_inventory(path, result, secret=True)
    typer.echo(f"inventory: {path} (0600: it holds the enrollment tokens; do not commit it)")
    if not inventory_only:
        command = [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(path),
            str(PLAYBOOK),
        ]
        typer.echo("running: " + " ".join(command))
        if subprocess.run(command, check=False).returncode != 0:
            _fail(f"the playbook failed: site {site_id} stays created", 1)
    waited = wait if wait is not None else (0.0 if inventory_only else 300.0)
    done = _try_provisioned(site_id, url, waited)
    if done is None:
        pending = [k["kiosk_id"] for k in _site(site_id, url)["kiosks"] if not k["enrolled"]]
        typer.echo(
            f"{site_id}: created; waiting for enrollment of {', '.join(pending)} "
            "(`madoguchi site check` marks it provisioned once they have)"
        )
        return
    typer.echo(_state_line(done))


def _report(run: dict[str, Any]) -> str:
    lines = [f"connection test {run['run_id']}: {'PASS' if run['passed'] else 'FAIL'}"]
    for kiosk in run["kiosks"]:
        lines.append(f"  {kiosk['kiosk_id']}: {kiosk['status'].upper()} {kiosk['detail']}".rstrip())
        for item in kiosk["items"]:
            measured = (
                f" {item['measured']:g} {item.get('unit') or ''}".rstrip()
                if item.get("measured") is not None
                else ""
            )
            limit = f" (limit {item['limit']:g})" if item.get("limit") is not None else ""
            verdict = "ok  " if item["passed"] else "FAIL"
            detail = f" {item['detail']}" if item.get("detail") else ""
            lines.append(f"    {verdict} {item['name']}{measured}{limit}{detail}")
    return "\n".join(lines)


@app.command("check")
def check(
    site_id: SiteArg,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the reports (a silent kiosk fails)")
    ] = 180.0,
    url: UrlOption = None,
) -> None:
    """Run the connection test on every kiosk of SITE and print the pass/fail report."""
    site = _site(site_id, url)
    if site["state"] == "created":
        site = _try_provisioned(site_id, url, 0) or site
    if site["state"] not in ("provisioned", "checked"):
        _fail(f"refused: site {site_id} is {site['state']} (needs provisioned or checked)", 3)
    wanted = {tuple(sorted(k["peripherals"])) for k in site["definition"]["kiosks"]}
    body = {"peripherals": list(wanted.pop())} if len(wanted) == 1 else None
    started = _call("POST", f"/api/sites/{site_id}/checks", url, body)
    run_id = started["run_id"]
    typer.echo(f"connection test {run_id} sent to {', '.join(started['kiosks'])}")
    deadline = time.monotonic() + timeout
    while True:
        run = _call("GET", f"/api/sites/{site_id}/checks?run_id={run_id}", url)
        if run["status"] != "pending" or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    if run["status"] == "pending":
        # The server's own deadline decides in the end; here a silent kiosk is a failure.
        run = {
            **run,
            "passed": False,
            "kiosks": [
                {**k, "status": "failed", "detail": "no report in time"}
                if k["status"] == "pending"
                else k
                for k in run["kiosks"]
            ],
        }
    typer.echo(_report(run))
    if not run["passed"]:
        _fail(f"{site_id}: the connection test failed; the site cannot open", 1)
    checked = _call("POST", f"/api/sites/{site_id}/checked", url)
    typer.echo(_state_line(checked))


@app.command("open")
def open_site(site_id: SiteArg, url: UrlOption = None) -> None:
    """Open SITE for calls on its schedule (refused unless the newest check passed recently)."""
    typer.echo(_state_line(_call("POST", f"/api/sites/{site_id}/open", url)))


@app.command("close")
def close(site_id: SiteArg, url: UrlOption = None) -> None:
    """Stop SITE's calls, wipe each kiosk's session data, revoke the kiosks' certificates."""
    answer = _call("POST", f"/api/sites/{site_id}/close", url)
    typer.echo(_state_line(answer["site"]))
    for command_id, state in answer["wipe_commands"].items():
        typer.echo(f"  session wipe {command_id}: {state}")
    for kiosk_id, serials in answer["revoked"].items():
        typer.echo(f"  {kiosk_id}: certificates revoked: {', '.join(serials) or 'none left'}")
    typer.echo(f"  broker reload: {', '.join(answer['broker_reload']) or '-'}")


@app.command("decommission")
def decommission(site_id: SiteArg, url: UrlOption = None) -> None:
    """After close: refuse SITE's kiosks for good; the site is kept as a record."""
    typer.echo(_state_line(_call("POST", f"/api/sites/{site_id}/decommission", url)))


@app.command("show")
def show(
    site_id: SiteArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOption = None,
) -> None:
    """SITE's state, kiosks and history."""
    site = _site(site_id, url)
    if as_json:
        typer.echo(json.dumps(site, ensure_ascii=False, indent=2))
        return
    typer.echo(_state_line(site))
    for event in site["history"]:
        typer.echo(
            f"  {event['at']}  {event['from_state'] or '-'} → {event['to_state']}  {event['by']}"
        )
