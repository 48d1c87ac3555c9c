"""Agent updates with a health check and automatic rollback.

Layout (the kiosk Ansible role creates it): `releases/{version}/` holds each installed
release with its own `bin/madoguchi`; `releases/current` is a symlink to the running one.
`madoguchi edge launch` (the systemd service) runs `releases/current/bin/madoguchi edge run`
and supervises it.

An `update_agent` command (version, artifact URL, SHA-256):
1. refused if that version failed before, unless `retry` is set — a failed update is
   reported, never retried in a loop;
2. the artifact is downloaded, its SHA-256 checked, and installed into `releases/{version}`
   by the configured installer command;
3. a pending-update record is written (command id, version, previous version, deadline),
   `current` is switched, and the agent exits for the launcher to start the new release;
4. the new release, once connected to the broker with its peripherals passing a self-test,
   reports the command `succeeded`;
5. if the new release exits before that or misses the deadline, the launcher switches
   `current` back, records the failure, and the previous release reports `failed`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import structlog

log = structlog.get_logger("edge.updates")

VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
PENDING_FILE = "update-pending.json"
FAILED_FILE = "update-failed.json"
RESTART_EXIT_CODE = 75  # the agent asks the launcher to start `current` again
RELEASE_ENV = "MADOGUCHI_RELEASE"  # which release the launcher started


class UpdateError(Exception):
    """The update cannot go ahead; the message says why (sent as the command's detail)."""


@dataclass
class Pending:
    command_id: str
    version: str
    previous: str
    deadline: float  # wall-clock seconds
    state: str = "pending"  # pending | rolled_back
    reason: str = ""


class Releases:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    def current(self) -> str | None:
        link = self.current_link
        return link.resolve().name if link.is_symlink() else None

    def path(self, version: str) -> Path:
        if not VERSION_PATTERN.match(version):
            raise UpdateError(f"'{version[:64]}' is not a version")
        return self.root / version

    def installed(self, version: str) -> bool:
        return (self.path(version) / "bin" / "madoguchi").exists()

    def switch(self, version: str) -> None:
        """Point `current` at `version` atomically (a new symlink renamed over the old)."""
        target = self.path(version)
        temporary = self.root / f".current-{os.getpid()}"
        if temporary.is_symlink():
            temporary.unlink()
        temporary.symlink_to(target.name)
        os.replace(temporary, self.current_link)


class UpdateState:
    """The pending and failed records, kept in the agent's state directory."""

    def __init__(self, state_dir: Path) -> None:
        self._pending = state_dir / PENDING_FILE
        self._failed = state_dir / FAILED_FILE

    def pending(self) -> Pending | None:
        if not self._pending.exists():
            return None
        return Pending(**json.loads(self._pending.read_text()))

    def set_pending(self, pending: Pending) -> None:
        temporary = self._pending.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(pending)))
        os.replace(temporary, self._pending)

    def clear_pending(self) -> None:
        self._pending.unlink(missing_ok=True)

    def failures(self) -> dict[str, str]:
        if not self._failed.exists():
            return {}
        failures: dict[str, str] = json.loads(self._failed.read_text())
        return failures

    def record_failure(self, version: str, reason: str) -> None:
        failures = self.failures()
        failures[version] = reason[:200]
        self._failed.write_text(json.dumps(failures))


async def download(url: str, destination: Path, sha256: str, *, timeout_s: float = 300) -> None:
    """Fetch the artifact, refusing it unless its SHA-256 matches."""
    digest = hashlib.sha256()
    try:
        async with (
            httpx.AsyncClient(timeout=timeout_s) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            with destination.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise UpdateError(f"download failed: {type(exc).__name__}") from None
    if digest.hexdigest() != sha256.lower():
        await asyncio.to_thread(destination.unlink, missing_ok=True)
        raise UpdateError("the artifact's SHA-256 does not match; refused")


async def install(
    installer: tuple[str, ...], artifact: Path, release: Path, *, timeout_s: float = 600
) -> None:
    """Run the installer (`{artifact}` and `{release}` are replaced) into a fresh directory."""
    await asyncio.to_thread(_fresh_directory, release)
    command = [
        part.replace("{artifact}", str(artifact)).replace("{release}", str(release))
        for part in installer
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        raise UpdateError("the installer timed out") from None
    launcher = release / "bin" / "madoguchi"
    if process.returncode != 0 or not await asyncio.to_thread(launcher.exists):
        await asyncio.to_thread(shutil.rmtree, release, ignore_errors=True)
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise UpdateError(f"the installer failed ({process.returncode}): {tail[0][:120]}")


def _fresh_directory(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def launch(releases: Path, state_dir: Path, *, args: tuple[str, ...] = ("edge", "run")) -> int:
    """Supervise the current release (the systemd service runs this). Returns the exit
    code to leave with; a restart request starts `current` again; a pending update that
    dies or misses its deadline is rolled back."""
    store = Releases(releases)
    state = UpdateState(state_dir)
    stopping: list[int] = []
    current_child: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, _frame: object) -> None:
        # systemd stops the service: pass it on to the agent, which says goodbye.
        stopping.append(signum)
        for child in current_child:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        version = store.current()
        if version is None or not store.installed(version):
            log.error("no_release_to_run", releases=str(releases))
            return 1
        env = {**os.environ, RELEASE_ENV: version}
        log.info("release_starting", version=version)
        child = subprocess.Popen([str(store.path(version) / "bin" / "madoguchi"), *args], env=env)
        current_child[:] = [child]
        code = _wait_watching(child, state, version)
        if stopping:
            return 0
        pending = state.pending()
        if pending is not None and pending.state == "pending" and pending.version == version:
            # The new release did not confirm its health: put the previous one back.
            reason = "missed its health-check deadline" if code is None else f"exited with {code}"
            log.warning("update_rolled_back", version=version, previous=pending.previous)
            state.record_failure(version, reason)
            pending.state, pending.reason = "rolled_back", reason
            state.set_pending(pending)
            store.switch(pending.previous)
            continue
        if code == RESTART_EXIT_CODE:
            continue
        return code or 0


def _wait_watching(child: subprocess.Popen[bytes], state: UpdateState, version: str) -> int | None:
    """The child's exit code, or None after killing it for missing the update deadline."""
    while True:
        try:
            return child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pending = state.pending()
            if (
                pending is not None
                and pending.state == "pending"
                and pending.version == version
                and time.time() > pending.deadline
            ):
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                return None
