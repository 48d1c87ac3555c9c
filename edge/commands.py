"""Maintenance commands from the cloud: identity, expiry, replay window, idempotency, and a
route table per agent.

Before a command runs it must name this kiosk (`kiosk_id`, besides the topic the broker
delivered it on), not have expired, and have been sent within the replay window: not more
than `replay_window` ago and not later than `now + clock_skew`. A command id already
answered is answered again from memory, never run twice; ids are remembered for as long as
the replay window could still let their command through, so a replayed message is either
too old or recognised.

Handlers are registered on a `CommandRouter` instance (never a module-level list), return a
short detail and scalar output, and raise to report failure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


# Commands sent longer ago than this are refused: above the longest a rollout's command
# waits at the broker for an offline kiosk (30 minutes), well below a day.
REPLAY_WINDOW = timedelta(minutes=60)
# The kiosk's and the control plane's clocks (both NTP-synchronised) may differ this much.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(slots=True)
class _Answer:
    outcome: CommandOutcome
    forget_after: datetime  # when the replay window alone refuses the command


class CommandRouter:
    def __init__(
        self,
        *,
        kiosk_id: str | None = None,
        replay_window: timedelta = REPLAY_WINDOW,
        clock_skew: timedelta = CLOCK_SKEW,
        remember: int = 4096,
    ) -> None:
        self._handlers: dict[CommandName, Handler] = {}
        self._answered: OrderedDict[str, _Answer] = OrderedDict()
        self._kiosk_id = kiosk_id
        self._replay_window = replay_window
        self._clock_skew = clock_skew
        self._remember = remember

    def on(self, name: CommandName) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers[name] = handler
            return handler

        return register

    async def handle(self, command: CommandMessage, *, now: datetime) -> CommandOutcome:
        key = str(command.command_id)
        if self._kiosk_id is not None and command.kiosk_id != self._kiosk_id:
            # Not ours (whatever the topic said): refused, and its id never remembered, so it
            # cannot shadow a genuine command with the same id.
            log.warning("command_refused", command_id=key, reason="addressed to another kiosk")
            return CommandOutcome("rejected", "the command is addressed to another kiosk")
        self._forget(now)
        if key in self._answered:
            # The same id again (a retry, a redelivery): answer again, never run twice.
            return self._answered[key].outcome
        refused = self._check(command, now=now)
        if refused is not None:
            log.warning(
                "command_refused", command=command.name, command_id=key, reason=refused.detail
            )
        outcome = refused or await self._run(command)
        self._answered[key] = _Answer(
            outcome, max(command.sent_at + self._replay_window, command.expires_at)
        )
        while len(self._answered) > self._remember:
            self._answered.popitem(last=False)
        return outcome

    def _forget(self, now: datetime) -> None:
        """Drop answers whose command the replay window or its expiry refuses anyway."""
        for key in [k for k, a in self._answered.items() if a.forget_after < now]:
            del self._answered[key]

    def _check(self, command: CommandMessage, *, now: datetime) -> CommandOutcome | None:
        if command.expires_at <= now:
            return CommandOutcome("expired", "the command expired before it arrived")
        if command.sent_at < now - self._replay_window:
            minutes = int(self._replay_window.total_seconds() // 60)
            return CommandOutcome(
                "expired", f"the command was sent more than {minutes} minutes ago (replay window)"
            )
        if command.sent_at > now + self._clock_skew:
            return CommandOutcome(
                "rejected", "the command is dated in the future beyond the allowed clock skew"
            )
        return None

    async def _run(self, command: CommandMessage) -> CommandOutcome:
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
