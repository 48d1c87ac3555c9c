"""`update_agent` for real: the launcher supervises a release, a good update is confirmed by
the new release's health check, a broken one is rolled back and reported, and is not retried
unless asked. Releases are directories with their own `bin/madoguchi`; artifacts are served
over HTTP by a real server; the command goes through the control plane and the broker."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.auth.models import Role
from madoguchi.mosquitto import free_port
from tests.cloud.conftest import Cloud
from tests.edge.helpers import edge_environment, edge_settings
from tests.servers import Broker

GOOD = f'#!/bin/sh\nexec "{sys.executable}" -m madoguchi "$@"\n'
BROKEN = "#!/bin/sh\necho this release cannot start >&2\nexit 3\n"


def artifact(directory: Path, name: str, launcher: str) -> tuple[Path, str]:
    """A release artifact: a tarball with `bin/madoguchi`."""
    path = directory / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = launcher.encode()
        info = tarfile.TarInfo("bin/madoguchi")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def artifact_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server for the artifacts (as a package mirror would be)."""
    directory = tmp_path / "artifacts"
    directory.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", directory
    server.shutdown()


async def command(cloud: Cloud, token: str, kiosk: str, args: dict[str, Any]) -> dict[str, Any]:
    """Issue update_agent and wait for a final state."""
    headers = {"Authorization": f"Bearer {token}"}
    issued = await cloud.client.post(
        f"/api/kiosks/{kiosk}/commands",
        json={"name": "update_agent", "args": args, "expires_in_s": 120},
        headers=headers,
    )
    assert issued.status_code == 202, issued.text
    command_id = issued.json()["command_id"]
    async with asyncio.timeout(90):
        while True:
            state = (await cloud.client.get(f"/api/commands/{command_id}", headers=headers)).json()
            if state["state"] in ("succeeded", "failed", "rejected", "expired", "timed_out"):
                return state
            await asyncio.sleep(0.3)


async def agent_version(cloud: Cloud, token: str, kiosk: str) -> str | None:
    listed = await cloud.client.get("/api/kiosks", headers={"Authorization": f"Bearer {token}"})
    for row in listed.json():
        if row["kiosk_id"] == kiosk and row["status"] == "online":
            return str(row["agent_version"])
    return None


async def wait_version(cloud: Cloud, token: str, kiosk: str, version: str) -> None:
    async with asyncio.timeout(60):
        while await agent_version(cloud, token, kiosk) != version:
            await asyncio.sleep(0.3)


async def test_update_is_health_checked_and_a_broken_release_rolled_back(
    broker: Broker,
    broker_cloud: Cloud,
    state_dir: Path,
    tmp_path: Path,
    artifact_server: tuple[str, Path],
) -> None:
    base_url, served = artifact_server
    releases = tmp_path / "releases"
    (releases / "1.0.0" / "bin").mkdir(parents=True)
    (releases / "1.0.0" / "bin" / "madoguchi").write_text(GOOD)
    (releases / "1.0.0" / "bin" / "madoguchi").chmod(0o755)
    (releases / "current").symlink_to("1.0.0")
    _, good_sha = artifact(served, "agent-2.0.0", GOOD)
    _, broken_sha = artifact(served, "agent-3.0.0", BROKEN)
    settings = edge_settings(
        broker,
        "upd-k1",
        state_dir,
        releases_dir=releases,
        installer=("tar", "-xzf", "{artifact}", "-C", "{release}"),
        update_health_timeout_s=30,
    )
    env = {**os.environ, **edge_environment(settings)}
    launcher = subprocess.Popen(  # noqa: ASYNC220 - one child for the whole test
        [sys.executable, "-m", "madoguchi", "edge", "launch", "--releases", str(releases)],
        env=env,
    )
    tech = await broker_cloud.token(Role.TECH)
    try:
        await wait_version(broker_cloud, tech, "upd-k1", "1.0.0")

        bad_hash = await command(
            broker_cloud,
            tech,
            "upd-k1",
            {"version": "2.0.0", "url": f"{base_url}/agent-2.0.0.tar.gz", "sha256": "0" * 64},
        )
        assert bad_hash["state"] == "failed" and "SHA-256" in bad_hash["detail"]

        good = await command(
            broker_cloud,
            tech,
            "upd-k1",
            {
                "version": "2.0.0",
                "url": f"{base_url}/agent-2.0.0.tar.gz",
                "sha256": good_sha,
                "retry": True,  # 2.0.0 "failed" above (its download was refused)
            },
        )
        assert good["state"] == "succeeded", good
        assert "from 1.0.0 to 2.0.0" in good["detail"]
        await wait_version(broker_cloud, tech, "upd-k1", "2.0.0")
        assert (releases / "current").resolve().name == "2.0.0"

        broken = await command(
            broker_cloud,
            tech,
            "upd-k1",
            {"version": "3.0.0", "url": f"{base_url}/agent-3.0.0.tar.gz", "sha256": broken_sha},
        )
        assert broken["state"] == "failed", broken
        assert "rolled back to 2.0.0" in broken["detail"] and "exited with 3" in broken["detail"]
        await wait_version(broker_cloud, tech, "upd-k1", "2.0.0")
        assert (releases / "current").resolve().name == "2.0.0"
        failures = json.loads((state_dir / "update-failed.json").read_text())
        assert "3.0.0" in failures

        # Reported, not retried in a loop: the same update is refused until asked again.
        again = await command(
            broker_cloud,
            tech,
            "upd-k1",
            {"version": "3.0.0", "url": f"{base_url}/agent-3.0.0.tar.gz", "sha256": broken_sha},
        )
        assert again["state"] == "rejected" and "retry=true" in again["detail"]
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(20)
        except subprocess.TimeoutExpired:
            launcher.kill()
            raise
    assert launcher.returncode == 0
