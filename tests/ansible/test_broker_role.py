"""The Ansible broker role renders with the same generator the tests use, and the broker it
installs enforces the ACL."""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiomqtt

from madoguchi.mosquitto import MosquittoProcess, free_port
from protocol.v1 import TopicKind, topic
from provisioning.ca import FleetCA
from tests.mqtt_clients import PubackRecorder, tls_context

ROOT = Path(__file__).resolve().parents[2]


def test_broker_role_installs_a_working_broker(tmp_path: Path) -> None:
    ca = FleetCA.create(tmp_path / "ca")
    kiosk = ca.issue_kiosk("role-k1", tmp_path / "clients")
    etc = tmp_path / "etc"
    port = free_port()
    (tmp_path / "inventory.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles: [mqtt_broker]\n"
    )
    extra = {
        "madoguchi_cli": str(Path(sys.executable).with_name("madoguchi")),
        "madoguchi_ca_dir": str(ca.directory),
        "madoguchi_build_dir": str(tmp_path / "build"),
        "mqtt_port": port,
        "mqtt_server_names": ["localhost"],
        "mqtt_install_packages": False,
        "mqtt_manage_service": False,
        "mqtt_etc_dir": str(etc),
        "mqtt_persistence_dir": str(tmp_path / "persist"),
        "mqtt_run_as": getpass.getuser(),
        "mqtt_file_owner": getpass.getuser(),
        "mqtt_log_dest": "stderr",
    }
    import json

    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROOT / "ansible" / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert playbook, "ansible-playbook is missing from the environment (dev extra)"
    result = subprocess.run(
        [
            playbook,
            "-i",
            str(tmp_path / "inventory.ini"),
            str(tmp_path / "site.yml"),
            "-e",
            json.dumps(extra),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    conf = (etc / "mosquitto.conf").read_text()
    assert f"cafile {etc}/madoguchi/ca.crt" in conf
    assert oct((etc / "madoguchi" / "broker.key").stat().st_mode & 0o777) == "0o600"
    (tmp_path / "persist").mkdir(exist_ok=True)

    broker = MosquittoProcess(etc / "mosquitto.conf", port, log_path=tmp_path / "broker.log")
    broker.start()
    try:
        asyncio.run(_check_acl(port, ca.cert_path, (kiosk.cert_path, kiosk.key_path)))
    finally:
        broker.stop()


async def _check_acl(port: int, ca_file: Path, cert: tuple[Path, Path]) -> None:
    async with aiomqtt.Client(
        "localhost",
        port,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls_context(ca_file, cert),
    ) as client:
        pubacks = PubackRecorder(client)
        await client.publish(topic("role-k1", TopicKind.EVENT), b"{}", qos=1)
        await client.publish(topic("role-k2", TopicKind.EVENT), b"{}", qos=1)
        assert [code >= 128 for code in pubacks.reason_codes] == [False, True]
