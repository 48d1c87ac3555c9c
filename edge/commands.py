"""Maintenance commands from the cloud: expiry, idempotency, and a route table per agent.

Handlers are registered on a `CommandRouter` instance (never a module-level list), return a
short detail and scalar output, and raise to report failure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from protocol.v1.messages import CommandMessage, CommandName, CommandStatus

log = structlog.get_logger("edge.commands")

Scalar = bool | int | float | str


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    status: CommandStatus
    detail: str = ""
    output: dict[str, Scalar] = field(default_factory=dict)


Handler = Callable[[CommandMessage], Awaitable[CommandOutcome]]


class CommandRouter:
    def __init__(self, *, remember: int = 256) -> None:
        self._handlers: dict[CommandName, Handler] = {}
        self._answered: OrderedDict[str, CommandOutcome] = OrderedDict()
        self._remember = remember

    def on(self, name: CommandName) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers[name] = handler
            return handler

        return register

    async def handle(self, command: CommandMessage, *, now: datetime) -> CommandOutcome:
        key = str(command.command_id)
        if key in self._answered:
            # The same id again (a retry, a redelivery): answer again, never run twice.
            return self._answered[key]
        outcome = await self._run(command, now=now)
        self._answered[key] = outcome
        while len(self._answered) > self._remember:
            self._answered.popitem(last=False)
        return outcome

    async def _run(self, command: CommandMessage, *, now: datetime) -> CommandOutcome:
        if command.expires_at <= now:
            return CommandOutcome("expired", "the command expired before it arrived")
        handler = self._handlers.get(command.name)
        if handler is None:
            return CommandOutcome("rejected", f"this agent does not support '{command.name}'")
        try:
            return await handler(command)
        except Exception as exc:
            # The exception text may be anything; the result carries only its type.
            log.exception(
                "command_failed", command=command.name, command_id=str(command.command_id)
            )
            return CommandOutcome("failed", f"{command.name} failed: {type(exc).__name__}")
