"""The kiosk's answers to maintenance commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import structlog
from pydantic import ValidationError

from edge.commands import CommandOutcome, CommandRouter
from edge.peripherals.registry import PeripheralRegistry
from protocol.v1 import CommandMessage, KioskConfig
from protocol.v1.codec import describe_validation_error

log = structlog.get_logger("edge.maintenance")

# Commands that would interrupt a resident: they wait for the session to end unless forced.
DISRUPTIVE = frozenset({"restart_agent", "reboot", "update_agent", "screenshot"})
# Give the result a moment to reach the broker before the agent goes away.
SETTLE_S = 0.3


class AgentControl(Protocol):
    """What the handlers may do to the agent that runs them."""

    @property
    def config(self) -> KioskConfig: ...

    def apply_config(self, config: KioskConfig) -> None: ...

    def request_restart(self) -> None: ...


def register(
    router: CommandRouter,
    *,
    agent: AgentControl,
    peripherals: PeripheralRegistry,
    reboot_command: tuple[str, ...],
    later: Callable[[float, Callable[[], object]], object],
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

    @router.on("restart_agent")
    async def restart_agent(_command: CommandMessage) -> CommandOutcome:
        later(SETTLE_S, agent.request_restart)
        return CommandOutcome("succeeded", "the agent restarts now")

    @router.on("reboot")
    async def reboot(_command: CommandMessage) -> CommandOutcome:
        async def run() -> None:
            process = await asyncio.create_subprocess_exec(*reboot_command)
            code = await process.wait()
            log.info("reboot_command_finished", code=code)

        later(SETTLE_S, lambda: asyncio.ensure_future(run()))
        return CommandOutcome("succeeded", "rebooting")
