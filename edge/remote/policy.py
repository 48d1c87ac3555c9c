"""Whether an operator's remote input may be injected. Pure: no X, an injectable clock.

Order of the checks (the first that fails is the reason reported back):
1. `not_enabled`: remote control is off. The kiosk enables it only during an accepted call,
   after the resident's consent; ending the call disables it.
2. `blocked_pin_entry`: the resident is typing a PIN on the tenkey, or the operator marked a
   PIN step. Several reasons may hold at once; input flows again when all are cleared.
3. `unknown_key`, `denied_key`, `denied_button`: what the input would do (see `keys`).
4. `rate_limited`: token buckets, one for pointer moves and one for everything else. Excess
   is dropped and counted, never queued (a queue would replay a burst later, when the
   operator no longer expects it). Releases ("up") are never rate limited, so a drag or a
   held key can always end; the injector ignores releases of what it does not hold.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from edge.remote.keys import Chord, is_denied, resolve_chord, resolve_key
from protocol.v1.remote import (
    BlockReason,
    KeyInput,
    PointerButton,
    PointerInput,
    RefusalReason,
    RemoteInput,
    TextInput,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateLimits:
    """Events per second and burst sizes. A console sends pointer moves at most at the
    display rate (~60/s); clicks, keys and texts come at human speed."""

    pointer_moves_per_second: float = 60.0
    pointer_move_burst: float = 60.0
    events_per_second: float = 20.0
    event_burst: float = 20.0


class TokenBucket:
    """`rate` tokens per second up to `burst`; each allowed event takes one."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        # A clock that goes backwards (it should not: monotonic) adds nothing.
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class Decision:
    """`reason` is None when the input may be injected; `chord` is set for key inputs."""

    reason: RefusalReason | None
    chord: Chord | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None


class RemoteControlGate:
    """Decides, counts refusals, holds no X state. The caller sets `enabled` and the block
    reasons; the `RemoteControl` facade also releases held input when they change."""

    def __init__(
        self,
        *,
        limits: RateLimits | None = None,
        clock: Clock = time.monotonic,
        allowed_buttons: frozenset[PointerButton] = frozenset({"left", "right"}),
    ) -> None:
        limits = limits or RateLimits()
        self._moves = TokenBucket(limits.pointer_moves_per_second, limits.pointer_move_burst, clock)
        self._events = TokenBucket(limits.events_per_second, limits.event_burst, clock)
        # Middle click opens links in a new tab and pastes the X primary selection.
        self._allowed_buttons = allowed_buttons
        self._enabled = False
        self._blocks: set[BlockReason] = set()
        self._refused: Counter[RefusalReason] = Counter()

    # --- state set by the caller ----------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    @property
    def blocked(self) -> bool:
        return bool(self._blocks)

    @property
    def block_reasons(self) -> tuple[BlockReason, ...]:
        return tuple(sorted(self._blocks))

    def block(self, reason: BlockReason) -> None:
        self._blocks.add(reason)

    def unblock(self, reason: BlockReason) -> None:
        self._blocks.discard(reason)

    # --- decisions ------------------------------------------------------------------------

    @property
    def refused(self) -> dict[RefusalReason, int]:
        return dict(self._refused)

    def count_refusal(self, reason: RefusalReason) -> None:
        """Count a refusal decided elsewhere (unparseable message, unmapped key, X error)."""
        self._refused[reason] += 1

    def check(self, message: RemoteInput) -> Decision:
        decision = self._decide(message)
        if decision.reason is not None:
            self._refused[decision.reason] += 1
        return decision

    def _decide(self, message: RemoteInput) -> Decision:
        if not self._enabled:
            return Decision("not_enabled")
        if self._blocks:
            return Decision("blocked_pin_entry")
        chord: Chord | None = None
        if isinstance(message, KeyInput):
            key = resolve_key(message.key)
            if key is None:
                return Decision("unknown_key")
            chord = resolve_chord(
                key,
                ctrl=message.ctrl,
                alt=message.alt,
                shift=message.shift,
                meta=message.meta,
                down=message.action != "up",
            )
            if message.action == "up":
                return Decision(None, chord)  # releasing is always safe and never limited
            if is_denied(chord):
                return Decision("denied_key", chord)
        elif isinstance(message, PointerInput):
            if message.button is not None and message.button not in self._allowed_buttons:
                return Decision("denied_button")
            if message.action == "up":
                return Decision(None)
        elif isinstance(message, TextInput):
            pass  # printable ASCII by schema, typed with no modifier: it cannot form a chord
        is_move = isinstance(message, PointerInput) and message.action == "move"
        bucket = self._moves if is_move else self._events
        if not bucket.take():
            return Decision("rate_limited", chord)
        return Decision(None, chord)
