"""The kiosk's answers to maintenance commands."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from pydantic import ValidationError

from edge.commands import CommandOutcome, CommandRouter
from edge.logbuffer import LogBuffer
from edge.media.screenshot import capture_jpeg
from edge.peripherals.registry import PeripheralRegistry
from edge.updates import (
    RESTART_EXIT_CODE,
    Pending,
    Releases,
    UpdateError,
    UpdateState,
    download,
    install,
)
from protocol.v1 import CommandMessage, KioskConfig
from protocol.v1.codec import describe_validation_error

log = structlog.get_logger("edge.maintenance")

# Commands that would interrupt a resident: they wait for the session to end unless forced.
DISRUPTIVE = frozenset({"restart_agent", "reboot", "update_agent"})
# Give the result a moment to reach the broker before the agent goes away.
SETTLE_S = 0.3


class AgentControl(Protocol):
    """What the handlers may do to the agent that runs them."""

    @property
    def config(self) -> KioskConfig: ...

    def apply_config(self, config: KioskConfig) -> None: ...

    def request_restart(self) -> None: ...

    def request_exit(self, code: int) -> None: ...

    def send_logs(
        self, command: CommandMessage, lines: tuple[str, ...], truncated: bool
    ) -> None: ...

    def send_screenshot(
        self, command: CommandMessage, jpeg: bytes, width: int, height: int
    ) -> None: ...

    @property
    def serving_resident(self) -> bool: ...

    @property
    def screen_source(self) -> str: ...

    async def site_check(self, command: CommandMessage) -> CommandOutcome: ...


LOG_LINES = 500
LOG_BYTES = 48 * 1024  # a bundle stays well under the 64 KiB payload limit


def register(
    router: CommandRouter,
    *,
    agent: AgentControl,
    peripherals: PeripheralRegistry,
    logs: LogBuffer,
    reboot_command: tuple[str, ...],
    later: Callable[[float, Callable[[], object]], object],
    updater: Updater | None = None,
) -> None:
    @router.on("self_test")
    async def self_test(_command: CommandMessage) -> CommandOutcome:
        results = await peripherals.self_test()
        failed = [p.name for p in results if p.status != "ok"]
        output: dict[str, bool | int | float | str] = {
            p.name: p.status + (" (simulated)" if p.simulated else "") for p in results
        }
        if failed:
            return CommandOutcome("failed", "failing: " + ", ".join(failed), output)
        return CommandOutcome("succeeded", "all peripherals ok", output)

    @router.on("site_check")
    async def site_check(command: CommandMessage) -> CommandOutcome:
        return await agent.site_check(command)

    @router.on("set_config")
    async def set_config(command: CommandMessage) -> CommandOutcome:
        try:
            config = KioskConfig.model_validate(
                {**agent.config.model_dump(), **command.args}, strict=False
            )
        except ValidationError as exc:
            return CommandOutcome("rejected", describe_validation_error(exc))
        agent.apply_config(config)
        return CommandOutcome("succeeded", "configuration applied", dict(config.model_dump()))

    @router.on("collect_logs")
    async def collect_logs(command: CommandMessage) -> CommandOutcome:
        wanted = command.args.get("lines", LOG_LINES)
        max_lines = min(LOG_LINES, wanted) if isinstance(wanted, int) and wanted > 0 else LOG_LINES
        lines, truncated = logs.recent(max_lines=max_lines, max_bytes=LOG_BYTES)
        agent.send_logs(command, lines, truncated)
        return CommandOutcome(
            "succeeded",
            f"{len(lines)} log lines sent",
            {"lines": len(lines), "truncated": truncated},
        )

    @router.on("restart_agent")
    async def restart_agent(_command: CommandMessage) -> CommandOutcome:
        later(SETTLE_S, agent.request_restart)
        return CommandOutcome("succeeded", "the agent restarts now")

    @router.on("screenshot")
    async def screenshot(command: CommandMessage) -> CommandOutcome:
        # Refused, not deferred, and not even for an admin: the screen may show a resident's
        # personal data (a Mynaportal page) while a session is on.
        if agent.serving_resident:
            return CommandOutcome(
                "rejected", "a resident is being served: no screenshots during a session"
            )
        if not agent.screen_source:
            return CommandOutcome("rejected", "this kiosk has no screen capture configured")
        try:
            jpeg, width, height = await capture_jpeg(agent.screen_source)
        except (OSError, ValueError) as exc:
            return CommandOutcome("failed", f"screen capture failed: {str(exc)[:120]}")
        agent.send_screenshot(command, jpeg, width, height)
        return CommandOutcome(
            "succeeded",
            f"screenshot sent ({width}x{height}, {len(jpeg)} bytes)",
            {"width": width, "height": height, "bytes": len(jpeg)},
        )

    @router.on("update_agent")
    async def update_agent(command: CommandMessage) -> CommandOutcome:
        if updater is None:
            return CommandOutcome("rejected", "this kiosk is not installed with releases")
        outcome = await updater.stage(command)
        if outcome.status == "accepted":
            later(SETTLE_S, lambda: agent.request_exit(RESTART_EXIT_CODE))
        return outcome

    @router.on("reboot")
    async def reboot(_command: CommandMessage) -> CommandOutcome:
        async def run() -> None:
            process = await asyncio.create_subprocess_exec(*reboot_command)
            code = await process.wait()
            log.info("reboot_command_finished", code=code)

        later(SETTLE_S, lambda: asyncio.ensure_future(run()))
        return CommandOutcome("succeeded", "rebooting")


class Updater:
    """`update_agent`: stage a release, switch to it, and exit for the launcher (see
    edge/updates.py for the whole protocol)."""

    def __init__(
        self,
        *,
        releases: Releases,
        state: UpdateState,
        installer: tuple[str, ...],
        health_timeout_s: float,
        running_version: str,
    ) -> None:
        self.releases = releases
        self.state = state
        self.installer = installer
        self.health_timeout_s = health_timeout_s
        self.running_version = running_version

    async def stage(self, command: CommandMessage) -> CommandOutcome:
        args = command.args
        version, url, sha256 = args.get("version"), args.get("url"), args.get("sha256")
        if not (isinstance(version, str) and isinstance(url, str) and isinstance(sha256, str)):
            return CommandOutcome("rejected", "update_agent needs version, url and sha256")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            return CommandOutcome("rejected", "sha256 must be 64 hex digits")
        if not url.startswith(("https://", "http://")):
            return CommandOutcome("rejected", "the artifact URL must be http(s)")
        if version == self.running_version:
            return CommandOutcome("succeeded", f"already running {version}")
        failed_before = self.state.failures().get(version)
        if failed_before and args.get("retry") is not True:
            return CommandOutcome(
                "rejected",
                f"{version} failed before ({failed_before}); send retry=true to try again",
            )
        try:
            release = self.releases.path(version)
            staging = self.releases.root / f".{version}.artifact"
            await download(url, staging, sha256)
            await install(self.installer, staging, release)
            staging.unlink(missing_ok=True)
        except UpdateError as exc:
            self.state.record_failure(version, str(exc))
            return CommandOutcome("failed", str(exc))
        self.state.set_pending(
            Pending(
                command_id=str(command.command_id),
                version=version,
                previous=self.running_version,
                deadline=time.time() + self.health_timeout_s,
            )
        )
        self.releases.switch(version)
        log.info("update_staged", version=version, previous=self.running_version)
        return CommandOutcome(
            "accepted", f"{version} installed; restarting into it for the health check"
        )
