"""`madoguchi provision inventory`: site files → an Ansible inventory, read back by the real
`ansible-inventory` the playbooks use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from madoguchi.cli import app as cli
from provisioning.sites import SITES_DIR

ANSIBLE_INVENTORY = Path(sys.executable).with_name("ansible-inventory")


def ansible_list(inventory: Path) -> dict[str, Any]:
    if not ANSIBLE_INVENTORY.exists():
        pytest.fail(f"{ANSIBLE_INVENTORY} is missing: pip install ansible-core into .venv")
    done = subprocess.run(
        [str(ANSIBLE_INVENTORY), "--list", "-i", str(inventory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listed: dict[str, Any] = json.loads(done.stdout)
    return listed


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    directory = tmp_path / "sites"
    shutil.copytree(SITES_DIR, directory)
    return directory


def test_hosts_groups_and_vars_as_the_roles_expect(sites: Path, tmp_path: Path) -> None:
    out = tmp_path / "inventory.yaml"
    result = CliRunner().invoke(
        cli, ["provision", "inventory", "--sites", str(sites), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    listed = ansible_list(out)

    assert set(listed["kiosks"]["children"]) >= {"site_city_hall", "site_popup_example"}
    assert sorted(listed["site_city_hall"]["hosts"]) == ["city-hall-01", "city-hall-02"]
    assert listed["site_popup_example"]["hosts"] == ["popup-example-01"]
    host = listed["_meta"]["hostvars"]["popup-example-01"]
    assert host["ansible_host"] == "192.168.8.21"
    assert host["madoguchi_kiosk_id"] == "popup-example-01"
    assert "madoguchi_enrollment_token" not in host  # only with --tokens
    assert host["madoguchi_site_id"] == "popup-example"
    assert host["madoguchi_broker_host"] == "mqtt.madoguchi.example"
    assert host["madoguchi_broker_port"] == 8883
    assert host["madoguchi_control_plane_url"] == "https://madoguchi.example"
    assert host["madoguchi_turn_urls"][0] == "turns:turn.madoguchi.example:443?transport=tcp"
    assert host["madoguchi_ntp_servers"] == ["ntp.nict.jp"]
    assert {"host": "ntp.nict.jp", "ports": [123], "proto": "udp"} in host["madoguchi_egress_allow"]
    assert "net.kojinbango-card.go.jp" in host["madoguchi_government_sites"]
    city = listed["_meta"]["hostvars"]["city-hall-02"]
    assert city["madoguchi_site_id"] == "city-hall"
    assert city["ansible_host"] == "kiosk-ch-02.madoguchi.example"


def test_admin_keys_reach_every_kiosk_and_bad_keys_write_nothing(
    sites: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    keys = tmp_path / "admin_keys"
    keys.write_text(f"# the maintenance team\n{public} tech@madoguchi\n", encoding="utf-8")
    out = tmp_path / "inventory.yaml"
    args = ["provision", "inventory", "--sites", str(sites), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--admin-keys", str(keys)])
    assert result.exit_code == 0, result.output
    hostvars = ansible_list(out)["_meta"]["hostvars"]
    for kiosk in ("city-hall-01", "popup-example-01"):
        assert hostvars[kiosk]["madoguchi_admin_ssh_keys"] == [f"{public} tech@madoguchi"]

    out.unlink()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    for bad, reason in ((private, "a private key"), ("ssh-ed25519 AAAAnotakey x\n", "not an SSH")):
        keys.write_text(bad, encoding="utf-8")
        refused = CliRunner().invoke(cli, [*args, "--admin-keys", str(keys)])
        assert refused.exit_code == 2 and reason in refused.output
        assert not out.exists()


def test_tokens_go_only_into_a_private_inventory(sites: Path, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"popup-example-01": "t" * 43}), encoding="utf-8")
    out = tmp_path / "private" / "inventory.yaml"
    args = ["provision", "inventory", "--sites", str(sites), "--tokens", str(tokens)]

    printed = CliRunner().invoke(cli, args)  # never to standard output
    assert printed.exit_code == 2 and "give --out" in printed.output

    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    listed = ansible_list(out)
    assert listed["_meta"]["hostvars"]["popup-example-01"]["madoguchi_enrollment_token"] == (
        "t" * 43
    )
    assert "madoguchi_enrollment_token" not in listed["_meta"]["hostvars"]["city-hall-01"]

    # A token for a kiosk of no site is a mistake in the tokens file: nothing is written.
    tokens.write_text(yaml.safe_dump({"nowhere-01": "t" * 43}), encoding="utf-8")
    elsewhere = tmp_path / "other.yaml"
    refused = CliRunner().invoke(cli, [*args, "--out", str(elsewhere)])
    assert refused.exit_code == 2 and "tokens for kiosks in no site: nowhere-01" in refused.output
    assert not elsewhere.exists()


def test_invalid_site_files_write_nothing(sites: Path, tmp_path: Path) -> None:
    broken = yaml.safe_load((sites / "popup-example.yaml").read_text(encoding="utf-8"))
    broken["kiosks"][0]["kiosk_id"] = "city-hall-01"  # already city hall's
    (sites / "popup-example.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    out = tmp_path / "inventory.yaml"
    result = CliRunner().invoke(
        cli, ["provision", "inventory", "--sites", str(sites), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "kiosk city-hall-01 is in two sites" in result.output
    assert not out.exists()
