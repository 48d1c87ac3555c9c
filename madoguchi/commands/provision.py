"""`madoguchi provision …`: the fleet CA, certificates and the broker's configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from provisioning.ca import FleetCA

app = typer.Typer(help="Fleet certificates and broker configuration.", no_args_is_help=True)

CaDir = Annotated[Path, typer.Option("--ca-dir", help="Directory holding ca.key and ca.crt")]
OutDir = Annotated[Path, typer.Option("--out", help="Directory to write into")]


def _load_ca(ca_dir: Path) -> FleetCA:
    from provisioning.ca import FleetCA

    if not (ca_dir / "ca.key").exists():
        typer.echo(
            f"no CA in {ca_dir}: run `madoguchi provision ca-init --ca-dir {ca_dir}`", err=True
        )
        raise typer.Exit(2)
    return FleetCA.load(ca_dir)


@app.command("ca-init")
def ca_init(ca_dir: CaDir) -> None:
    """Create the fleet certificate authority (refuses to overwrite one)."""
    from provisioning.ca import FleetCA

    try:
        ca = FleetCA.create(ca_dir)
    except FileExistsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(str(ca.cert_path))


@app.command("kiosk-cert")
def kiosk_cert(
    kiosk_id: Annotated[str, typer.Argument(help="Kiosk id, e.g. city-hall-01")],
    ca_dir: CaDir,
    out: OutDir,
) -> None:
    """Issue a kiosk's client certificate (CN = kiosk id = its broker user)."""
    ca = _load_ca(ca_dir)
    try:
        issued = ca.issue_kiosk(kiosk_id, out)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{issued.cert_path}\n{issued.key_path}")


@app.command("cloud-cert")
def cloud_cert(ca_dir: CaDir, out: OutDir) -> None:
    """Issue the control plane's client certificate."""
    issued = _load_ca(ca_dir).issue_cloud(out)
    typer.echo(f"{issued.cert_path}\n{issued.key_path}")


@app.command("broker-config")
def broker_config(
    ca_dir: CaDir,
    out: OutDir,
    port: Annotated[int, typer.Option(help="TLS listener port")] = 8883,
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Broker DNS name or IP (repeat)")
    ] = None,
    user: Annotated[str, typer.Option(help="User Mosquitto drops privileges to")] = "mosquitto",
    persistence_dir: Annotated[Path | None, typer.Option(help="Enable persistence here")] = None,
    install_dir: Annotated[
        Path | None,
        typer.Option(help="Where the files will live on the broker host (for deployment)"),
    ] = None,
    log_dest: Annotated[str, typer.Option(help="Mosquitto log_dest")] = "stderr",
) -> None:
    """Write the broker's server certificate, ACL and mosquitto.conf."""
    from provisioning.broker import write_broker_files

    names = tuple(name) if name else ("localhost", "127.0.0.1")
    config = write_broker_files(
        _load_ca(ca_dir),
        out,
        port=port,
        server_names=names,
        run_as_user=user,
        persistence_dir=persistence_dir,
        install_dir=install_dir,
        log_dest=log_dest,
    )
    typer.echo(str(config))


@app.command("inventory")
def inventory(
    sites: Annotated[Path, typer.Option("--sites", help="Directory of site files")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Inventory file (default: standard output)")
    ] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="Enrollment tokens (kiosk id: token); the inventory is then written 0600 "
            "and must not be committed",
        ),
    ] = None,
    admin_keys: Annotated[
        Path | None,
        typer.Option(
            "--admin-keys",
            help="authorized_keys file: the kiosks' maintenance account accepts these keys "
            "(without it, nobody can log in over SSH)",
        ),
    ] = None,
) -> None:
    """Write the Ansible inventory (YAML) of every site file in --sites."""
    from provisioning.inventory import (
        build_inventory,
        load_admin_keys,
        load_tokens,
        render_inventory,
        write_inventory,
    )
    from provisioning.sites import SiteFileError, load_sites

    try:
        loaded = load_sites(sites)
        issued = load_tokens(tokens) if tokens is not None else None
        keys = load_admin_keys(admin_keys) if admin_keys is not None else []
        result = build_inventory(loaded.values(), issued, keys)
    except SiteFileError as exc:
        typer.echo(f"invalid site files, nothing written:\n{exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"{exc}; nothing written", err=True)
        raise typer.Exit(2) from None
    if out is None:
        if issued:
            typer.echo("with --tokens, give --out (tokens are not printed)", err=True)
            raise typer.Exit(2)
        typer.echo(render_inventory(result), nl=False)
        return
    if not keys:
        typer.echo("no --admin-keys: the kiosks will accept no SSH log-in", err=True)
    write_inventory(out, result, secret=bool(issued))
    hosts = sum(len(s.kiosks) for s in loaded.values())
    typer.echo(f"{out}: {len(loaded)} sites, {hosts} kiosks")
