"""The PIN guard: while a resident may be typing a PIN, the operator sees and controls nothing.

Two things raise the guard: the first key on the tenkey (until Enter, or a quiet timeout),
and the operator marking a PIN step in the console (until they unmark it, or a longer
timeout). While it is up, the screen track sent to the operator is blanked and remote
input is refused. The guard never sees which keys were pressed: the tenkey driver reports
only that a key was pressed and whether it was Enter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

log = structlog.get_logger("edge.privacy")


class GuardReason(StrEnum):
    TENKEY = "tenkey"  # the resident is typing on the tenkey
    OPERATOR = "operator"  # the operator marked a PIN step


@dataclass(frozen=True, slots=True)
class GuardTimeouts:
    tenkey_quiet_s: float = 20.0  # no key for this long: the entry is over (or abandoned)
    operator_step_s: float = 180.0  # a marked step the operator forgot to unmark


class PinGuard:
    def __init__(
        self,
        on_change: Callable[[bool, frozenset[GuardReason]], None],
        timeouts: GuardTimeouts | None = None,
    ) -> None:
        self._on_change = on_change
        self._timeouts = timeouts or GuardTimeouts()
        self._reasons: set[GuardReason] = set()
        self._timers: dict[GuardReason, asyncio.TimerHandle] = {}

    @property
    def active(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> frozenset[GuardReason]:
        return frozenset(self._reasons)

    def tenkey_key(self, *, enter: bool) -> None:
        """A key went down on the tenkey; Enter ends the entry."""
        if enter:
            self._lower(GuardReason.TENKEY)
        else:
            self._raise(GuardReason.TENKEY, self._timeouts.tenkey_quiet_s)

    def operator_step(self, active: bool) -> None:
        if active:
            self._raise(GuardReason.OPERATOR, self._timeouts.operator_step_s)
        else:
            self._lower(GuardReason.OPERATOR)

    def reset(self) -> None:
        """The call ended: nothing to guard any more."""
        for reason in list(self._reasons):
            self._lower(reason)

    def _raise(self, reason: GuardReason, timeout_s: float) -> None:
        was_active, is_new = self.active, reason not in self._reasons
        self._reasons.add(reason)
        timer = self._timers.pop(reason, None)
        if timer is not None:
            timer.cancel()
        self._timers[reason] = asyncio.get_running_loop().call_later(
            timeout_s, self._expire, reason
        )
        if not was_active:
            log.info("pin_guard_up", reason=reason.value)
        if is_new:
            self._on_change(True, self.reasons)

    def _expire(self, reason: GuardReason) -> None:
        self._timers.pop(reason, None)
        log.info("pin_guard_timeout", reason=reason.value)
        self._lower(reason)

    def _lower(self, reason: GuardReason) -> None:
        timer = self._timers.pop(reason, None)
        if timer is not None:
            timer.cancel()
        if reason not in self._reasons:
            return
        self._reasons.discard(reason)
        if not self._reasons:
            log.info("pin_guard_down", reason=reason.value)
        self._on_change(self.active, self.reasons)
