"""Site files → an Ansible inventory (YAML).

The contract with the kiosk roles (they use exactly these names):

- group `kiosks`, one child group per site: `site_<site id, "-" → "_">`;
- host vars: `ansible_host`, `madoguchi_kiosk_id`, and `madoguchi_enrollment_token` only when
  tokens are given (the file is then written 0600 and must never be committed);
- group vars: `madoguchi_site_id`, `madoguchi_broker_host`, `madoguchi_broker_port`,
  `madoguchi_control_plane_url`, `madoguchi_turn_urls`, `madoguchi_ntp_servers`,
  `madoguchi_egress_allow` (list of {host, ports, proto}), `madoguchi_government_sites`;
- `kiosks` group var `madoguchi_admin_ssh_keys`: the maintenance account's public keys, fleet
  wide (not site data), from an authorized_keys file given with `--admin-keys`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from provisioning.sites import SiteFile

KIOSKS_GROUP = "kiosks"


def site_group(site_id: str) -> str:
    """The inventory group of a site (Ansible group names may not contain "-")."""
    return "site_" + site_id.replace("-", "_")


def _group_vars(site: SiteFile) -> dict[str, Any]:
    return {
        "madoguchi_site_id": site.site_id,
        "madoguchi_broker_host": site.endpoints.broker_host,
        "madoguchi_broker_port": site.endpoints.broker_port,
        "madoguchi_control_plane_url": site.endpoints.control_plane_url,
        "madoguchi_turn_urls": list(site.endpoints.turn_urls),
        "madoguchi_ntp_servers": list(site.endpoints.ntp_servers),
        "madoguchi_egress_allow": [
            {"host": rule.host, "ports": list(rule.ports), "proto": rule.proto}
            for rule in site.egress_allow
        ],
        "madoguchi_government_sites": list(site.government_sites),
    }


def build_inventory(
    sites: Iterable[SiteFile],
    tokens: Mapping[str, str] | None = None,
    admin_keys: Iterable[str] = (),
) -> dict[str, Any]:
    """The inventory as a mapping; `tokens` (kiosk id → one-time enrollment token) adds
    `madoguchi_enrollment_token` to those hosts. A token for a kiosk of no site is refused."""
    tokens = dict(tokens or {})
    children: dict[str, Any] = {}
    known: set[str] = set()
    for site in sorted(sites, key=lambda s: s.site_id):
        hosts: dict[str, dict[str, Any]] = {}
        for kiosk in site.kiosks:
            host_vars: dict[str, Any] = {
                "ansible_host": kiosk.hostname,
                "madoguchi_kiosk_id": kiosk.kiosk_id,
            }
            if kiosk.kiosk_id in tokens:
                host_vars["madoguchi_enrollment_token"] = tokens[kiosk.kiosk_id]
            hosts[kiosk.kiosk_id] = host_vars
            known.add(kiosk.kiosk_id)
        children[site_group(site.site_id)] = {"hosts": hosts, "vars": _group_vars(site)}
    unknown = sorted(set(tokens) - known)
    if unknown:
        raise ValueError(f"tokens for kiosks in no site: {', '.join(unknown)}")
    kiosks: dict[str, Any] = {"children": children}
    keys = list(admin_keys)
    if keys:
        kiosks["vars"] = {"madoguchi_admin_ssh_keys": keys}
    return {"all": {"children": {KIOSKS_GROUP: kiosks}}}


def render_inventory(inventory: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(inventory), sort_keys=False, allow_unicode=True)


def write_inventory(path: Path, inventory: Mapping[str, Any], *, secret: bool) -> None:
    """Write the inventory; with tokens in it (`secret`) the file is created 0600 and an
    existing file is replaced, never left readable by others."""
    text = render_inventory(inventory)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not secret:
        path.write_text(text, encoding="utf-8")
        return
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_tokens(path: Path) -> dict[str, str]:
    """A tokens file (YAML or JSON mapping kiosk id → token), e.g. from `site create
    --tokens-out`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the tokens: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a mapping of kiosk id to token")
    return dict(data)


def load_admin_keys(path: Path) -> list[str]:
    """Public keys from an authorized_keys-style file (one per line, `#` comments), each
    parsed by `cryptography` so a private key or a mangled line is refused, not deployed."""
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the keys: {exc}") from None
    keys = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "PRIVATE KEY" in line:
            raise ValueError(f"{path}:{number}: a private key; give public keys only")
        try:
            load_ssh_public_key(" ".join(line.split()[:2]).encode())
        except (ValueError, TypeError):
            raise ValueError(f"{path}:{number}: not an SSH public key") from None
        keys.append(line)
    if not keys:
        raise ValueError(f"{path}: no public key in the file")
    return keys
