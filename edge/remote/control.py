"""`RemoteControl`: the gate and the injector together, for the call's data channel.

The caller (the kiosk's call session) feeds every remote-input message to `handle_raw`,
enables control after the resident's consent in an accepted call, blocks it while a PIN is
being entered, and disables/closes it when the call ends. Whatever is held down is released
whenever control is disabled or blocked, so a call ending mid-drag leaves nothing stuck.

Logging: only the input kind and the refusal reason; never key values or text (a `text` may be
an application ID, a run of `key` messages may spell one).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol

from pydantic import ValidationError

from edge.remote.injector import InjectionError
from edge.remote.keys import Chord
from edge.remote.policy import RemoteControlGate
from protocol.v1.remote import (
    BlockReason,
    KeyInput,
    PointerButton,
    PointerInput,
    RefusalReason,
    RemoteControlStatus,
    RemoteInput,
    RemoteInputRefused,
    RemoteInputTooLargeError,
    TextInput,
    parse_remote_input,
)

log = logging.getLogger(__name__)


class Injector(Protocol):
    """What `RemoteControl` needs from an injector (`XTestInjector`, or a fake in tests)."""

    async def move(self, x: float, y: float) -> None: ...
    async def button(self, button: PointerButton, *, down: bool, x: float, y: float) -> None: ...
    async def wheel(self, dx: int, dy: int, x: float, y: float) -> None: ...
    async def key(self, action: Literal["down", "up", "press"], chord: Chord) -> None: ...
    async def type_text(self, text: str) -> None: ...
    async def release_all(self) -> None: ...
    async def close(self) -> None: ...


class RemoteControl:
    def __init__(self, injector: Injector, gate: RemoteControlGate | None = None) -> None:
        self._injector = injector
        self.gate = gate or RemoteControlGate()
        # Serialises check + inject against release, so a release cannot overtake an input.
        self._lock = asyncio.Lock()
        self._injected = 0

    async def handle_raw(self, raw: str | bytes) -> RemoteInputRefused | None:
        """Parse and handle one data-channel message. Returns the refusal to report to the
        console, or None when injected. Do not send `rate_limited` refusals back one by one
        (they are counted in `status()`)."""
        try:
            message = parse_remote_input(raw)
        except (ValidationError, RemoteInputTooLargeError, UnicodeDecodeError):
            # The error text may quote the input: log nothing of it.
            return self._refuse(None, "invalid_message", count=True)
        return await self.handle(message)

    async def handle(self, message: RemoteInput) -> RemoteInputRefused | None:
        async with self._lock:
            decision = self.gate.check(message)
            if decision.reason is not None:
                return self._refuse(message.type, decision.reason, count=False)
            try:
                await self._inject(message, decision.chord)
            except InjectionError as exc:
                return self._refuse(message.type, exc.reason, count=True)
            self._injected += 1
            return None

    async def _inject(self, message: RemoteInput, chord: Chord | None) -> None:
        if isinstance(message, PointerInput):
            if message.action == "move":
                await self._injector.move(message.x, message.y)
            elif message.action == "wheel":
                await self._injector.wheel(message.dx, message.dy, message.x, message.y)
            else:
                assert message.button is not None  # the model requires it for down/up
                await self._injector.button(
                    message.button, down=message.action == "down", x=message.x, y=message.y
                )
        elif isinstance(message, KeyInput):
            assert chord is not None  # the gate resolves every allowed key input
            await self._injector.key(message.action, chord)
        elif isinstance(message, TextInput):
            await self._injector.type_text(message.text)

    def _refuse(
        self, kind: Literal["pointer", "key", "text"] | None, reason: RefusalReason, *, count: bool
    ) -> RemoteInputRefused:
        if count:
            self.gate.count_refusal(reason)
        level = logging.WARNING if reason == "injection_failed" else logging.DEBUG
        log.log(level, "remote input refused: kind=%s reason=%s", kind or "unparsed", reason)
        return RemoteInputRefused(input=kind, reason=reason)

    # --- state ----------------------------------------------------------------------------

    async def enable(self) -> None:
        """After consent, during an accepted call."""
        self.gate.enable()
        log.info("remote control enabled")

    async def disable(self) -> None:
        """Call ended or the operator let go: refuse from now on and release what is held."""
        self.gate.disable()  # at once, not after the lock: no input may slip in meanwhile
        log.info("remote control disabled")
        await self._release()

    async def block(self, reason: BlockReason) -> None:
        """A PIN is being entered: refuse from now on and release what is held (a held
        modifier would change the resident's tenkey digits)."""
        self.gate.block(reason)
        log.info("remote control blocked: %s", reason)
        await self._release()

    async def unblock(self, reason: BlockReason) -> None:
        self.gate.unblock(reason)
        log.info("remote control unblocked: %s (still blocked: %s)", reason, self.gate.blocked)

    async def close(self) -> None:
        self.gate.disable()
        async with self._lock:
            await self._injector.close()

    async def _release(self) -> None:
        async with self._lock:
            try:
                await self._injector.release_all()
            except InjectionError as exc:
                self.gate.count_refusal(exc.reason)
                log.warning("could not release held remote input: %s", exc.reason)

    def status(self) -> RemoteControlStatus:
        return RemoteControlStatus(
            enabled=self.gate.enabled,
            blocked=self.gate.block_reasons,
            injected=self._injected,
            refused=self.gate.refused,
        )
