"""Inject pointer and keyboard input on the kiosk's X display with the XTEST extension.

Dumb on purpose: it does what it is told (the `RemoteControlGate` decides what may be told).
What it guarantees:
- One dedicated worker thread owns the Xlib connection (Xlib display objects are not
  thread-safe); the public API is async and calls are executed in submission order.
- Every event is flushed; every call ends with a round trip (sync), so when a call returns,
  the X server has processed its events and any X error has been raised.
- Keys are found in the server's current keyboard map; a keysym it lacks is refused
  (`unmapped_key`), the map is never changed (remapping would also change the tenkey).
- Modifiers are synchronised before a key goes down: exactly the chord's modifiers are held.
  When they change, held non-modifier keys are released first, so server autorepeat of a held
  key can never form a chord the gate did not see. Buttons, wheel and text are injected with
  no modifier held (no Ctrl+click "new tab", no Ctrl+wheel zoom).
- A `press` (and `type_text`) leaves no key or modifier held: the resident's tenkey shares the
  X keyboard state, and a held Ctrl would turn its digits into tab switches.
- `release_all()` and `close()` release every key, modifier and button this injector holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import Xlib.error  # type: ignore[import-untyped]
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest  # type: ignore[import-untyped]
from Xlib.protocol import event as xevent  # type: ignore[import-untyped]

from edge.remote.keys import MODIFIER_KEYSYMS, Chord, Modifier, is_printable, resolve_key
from protocol.v1.remote import PointerButton

log = logging.getLogger(__name__)

T = TypeVar("T")
KeyAction = Literal["down", "up", "press"]

_BUTTONS: dict[PointerButton, int] = {"left": 1, "middle": 2, "right": 3}
# X core wheel buttons: 4 up, 5 down, 6 left, 7 right.
_WHEEL_UP, _WHEEL_DOWN, _WHEEL_LEFT, _WHEEL_RIGHT = 4, 5, 6, 7
# Press order for modifiers; released in reverse.
_MODIFIER_ORDER = (Modifier.CTRL, Modifier.ALT, Modifier.SHIFT, Modifier.META)


class InjectionError(Exception):
    """The input was not (fully) injected. `reason` is a `RefusalReason`; the message never
    contains typed text."""

    def __init__(self, reason: Literal["unmapped_key", "injection_failed"], detail: str) -> None:
        super().__init__(detail)
        self.reason: Literal["unmapped_key", "injection_failed"] = reason


def scale(fraction: float, size: int) -> int:
    """A 0..1 fraction of the screen to a pixel: the pixel the fraction falls in, so the
    console's `offsetX / clientWidth` lands on the same pixel; 1.0 is the last pixel."""
    return min(int(fraction * size), size - 1)


class XTestInjector:
    """XTEST input on one X display (e.g. ":0"). Use `await open()` (or `async with`)."""

    def __init__(self, display: str, *, timeout: float = 5.0) -> None:
        self._name = display
        # A hung X server must not hang the call: the caller gets `injection_failed` (the
        # worker thread stays stuck until the server answers; later calls queue behind it).
        self._timeout = timeout
        # One thread owns the connection; FIFO keeps calls in submission order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xtest")
        self._display: Any = None
        self._root: Any = None
        self._size = (0, 0)
        self._modifier_codes: dict[Modifier, int] = {}
        # Keycodes / buttons this injector holds down (the worker thread mutates them).
        self._held_keys: dict[int, None] = {}  # ordered set
        self._held_modifiers: dict[Modifier, int] = {}
        self._held_buttons: dict[int, None] = {}
        self._errors: list[str] = []
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._x_open)

    async def close(self) -> None:
        """Release everything held, then close the connection. Safe to call twice."""
        if self._closed:
            return
        try:
            await self._run(self._x_close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> XTestInjector:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def screen_size(self) -> tuple[int, int]:
        return self._size

    @property
    def holding(self) -> bool:
        """True while a key, modifier or button injected here is down."""
        return bool(self._held_keys or self._held_modifiers or self._held_buttons)

    # --- input ----------------------------------------------------------------------------

    async def move(self, x: float, y: float) -> None:
        await self._run(self._x_move, x, y)

    async def button(self, button: PointerButton, *, down: bool, x: float, y: float) -> None:
        """Move to (x, y) and press or release. Releasing a button not held does nothing."""
        await self._run(self._x_button, _BUTTONS[button], down, x, y)

    async def wheel(self, dx: int, dy: int, x: float, y: float) -> None:
        """Move to (x, y) and scroll: positive dy down, positive dx right (browser sense)."""
        await self._run(self._x_wheel, dx, dy, x, y)

    async def key(self, action: KeyAction, chord: Chord) -> None:
        await self._run(self._x_key, action, chord)

    async def type_text(self, text: str) -> None:
        """Type printable ASCII; every character is checked before the first is typed, so
        an unmappable character never leaves half an application ID in the field."""
        await self._run(self._x_type_text, text)

    async def release_all(self) -> None:
        await self._run(self._x_release_all)

    # --- worker thread --------------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise InjectionError("injection_failed", "the injector is closed")
        loop = asyncio.get_running_loop()
        # Submitted before the first await: calls run in the order they were made.
        future = loop.run_in_executor(
            self._executor, functools.partial(self._x_guarded, function, *args)
        )
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError as exc:
            raise InjectionError("injection_failed", "the X server did not answer") from exc

    def _x_guarded(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return function(*args)
        except InjectionError:
            raise
        except (Xlib.error.XError, Xlib.error.ConnectionClosedError, OSError) as exc:
            raise InjectionError("injection_failed", type(exc).__name__) from exc

    def _x_open(self) -> None:
        if self._display is not None:
            return
        try:
            display = xdisplay.Display(self._name)
        except (Xlib.error.DisplayError, OSError) as exc:
            raise InjectionError("injection_failed", f"cannot open display {self._name}") from exc
        if not display.has_extension("XTEST"):
            display.close()
            raise InjectionError("injection_failed", "the X server has no XTEST extension")
        display.set_error_handler(self._on_x_error)
        screen = display.screen()
        self._display = display
        self._root = screen.root
        self._size = (int(screen.width_in_pixels), int(screen.height_in_pixels))
        self._load_modifier_codes()

    def _load_modifier_codes(self) -> None:
        self._modifier_codes = {}
        for modifier, keysym in MODIFIER_KEYSYMS.items():
            keycode = int(self._display.keysym_to_keycode(keysym))
            if keycode:
                self._modifier_codes[modifier] = keycode

    def _on_x_error(self, error: Any, request: Any = None) -> None:
        # Called by Xlib in the worker thread while it reads replies.
        self._errors.append(type(error).__name__)

    def _x_close(self) -> None:
        if self._display is None:
            return
        try:
            self._x_release_all()
        except (Xlib.error.XError, Xlib.error.ConnectionClosedError, OSError, InjectionError):
            log.warning("could not release held input while closing the X connection")
        finally:
            with contextlib.suppress(Xlib.error.ConnectionClosedError, OSError):
                self._display.close()
            self._display = None

    def _require_display(self) -> Any:
        if self._display is None:
            raise InjectionError("injection_failed", "the injector is not open")
        return self._display

    def _fake(self, event_type: int, detail: int = 0, x: int = 0, y: int = 0) -> None:
        display = self._require_display()
        xtest.fake_input(display, event_type, detail, root=self._root, x=x, y=y)
        display.flush()

    def _finish(self) -> None:
        """Round trip: the server has processed everything; surface X errors; follow
        keyboard-map changes (MappingNotify reaches every client)."""
        display = self._require_display()
        display.sync()
        while display.pending_events():
            event = display.next_event()
            if isinstance(event, xevent.MappingNotify):
                display.refresh_keyboard_mapping(event)
                self._load_modifier_codes()
        if self._errors:
            names = ", ".join(sorted(set(self._errors)))
            self._errors.clear()
            raise InjectionError("injection_failed", f"X error: {names}")

    def _keycode(self, keysym: int) -> tuple[int, bool]:
        """(keycode, needs Shift) from the current keyboard map, levels 1-2 only (a level
        needing AltGr/Mode_switch is not produced: the map decides what those keys mean)."""
        display = self._require_display()
        for keycode, index in display.keysym_to_keycodes(keysym):
            if index in (0, 1):
                return int(keycode), index == 1
        # Core-protocol rule: a letter key may list only one case of its keysym.
        if 0x41 <= keysym <= 0x5A or 0x61 <= keysym <= 0x7A:
            other = keysym ^ 0x20
            for keycode, index in display.keysym_to_keycodes(other):
                if index == 0:
                    return int(keycode), keysym <= 0x5A
        raise InjectionError("unmapped_key", f"keysym {keysym:#x} is not in the keyboard map")

    def _pixel(self, x: float, y: float) -> tuple[int, int]:
        width, height = self._size
        return scale(x, width), scale(y, height)

    def _x_release_keys(self) -> None:
        for keycode in reversed(list(self._held_keys)):
            self._fake(X.KeyRelease, keycode)
            del self._held_keys[keycode]

    def _x_sync_modifiers(self, target: frozenset[Modifier]) -> None:
        """Hold exactly `target`. When that changes, release held keys first (see module)."""
        missing = [m for m in target if m not in self._modifier_codes]
        if missing:
            raise InjectionError("unmapped_key", "a modifier key is not in the keyboard map")
        if frozenset(self._held_modifiers) == target:
            return
        self._x_release_keys()
        for modifier in reversed(_MODIFIER_ORDER):
            if modifier in self._held_modifiers and modifier not in target:
                self._fake(X.KeyRelease, self._held_modifiers.pop(modifier))
        for modifier in _MODIFIER_ORDER:
            if modifier in target and modifier not in self._held_modifiers:
                keycode = self._modifier_codes[modifier]
                self._fake(X.KeyPress, keycode)
                self._held_modifiers[modifier] = keycode

    def _x_move(self, x: float, y: float) -> None:
        px, py = self._pixel(x, y)
        self._fake(X.MotionNotify, 0, px, py)  # detail 0: absolute motion
        self._finish()

    def _x_button(self, number: int, down: bool, x: float, y: float) -> None:
        if not down and number not in self._held_buttons:
            return  # nothing to release; no motion either (ups are not rate limited)
        if down:
            self._x_sync_modifiers(frozenset())
        px, py = self._pixel(x, y)
        self._fake(X.MotionNotify, 0, px, py)
        if down:
            self._fake(X.ButtonPress, number)
            self._held_buttons[number] = None
        else:
            self._fake(X.ButtonRelease, number)
            del self._held_buttons[number]
        self._finish()

    def _x_wheel(self, dx: int, dy: int, x: float, y: float) -> None:
        self._x_sync_modifiers(frozenset())
        px, py = self._pixel(x, y)
        self._fake(X.MotionNotify, 0, px, py)
        for button, steps in (
            (_WHEEL_DOWN if dy > 0 else _WHEEL_UP, abs(dy)),
            (_WHEEL_RIGHT if dx > 0 else _WHEEL_LEFT, abs(dx)),
        ):
            for _ in range(steps):
                self._fake(X.ButtonPress, button)
                self._fake(X.ButtonRelease, button)
        self._finish()

    def _x_key(self, action: KeyAction, chord: Chord) -> None:
        key = chord.key
        if action == "up":
            # Releases only; never presses a modifier (an "up" is not checked by the gate).
            if key.modifier is not None:
                keycode = self._held_modifiers.pop(key.modifier, None)
                if keycode is not None:
                    self._x_release_keys()
                    self._fake(X.KeyRelease, keycode)
            else:
                try:
                    keycode, _ = self._keycode(key.keysym)
                except InjectionError:
                    return
                if keycode in self._held_keys:
                    self._fake(X.KeyRelease, keycode)
                    del self._held_keys[keycode]
            self._finish()
            return
        if key.modifier is not None:
            # A modifier key going down: holding the chord's modifiers is the whole event.
            self._x_sync_modifiers(chord.modifiers)
            if action == "press":
                self._x_sync_modifiers(frozenset())
            self._finish()
            return
        keycode, needs_shift = self._keycode(key.keysym)  # before any event: all or nothing
        target = chord.modifiers
        if key.printable:
            # The character decides Shift through the keyboard map ("@" is Shift+2 here).
            target = target - {Modifier.SHIFT}
            if needs_shift:
                target = target | {Modifier.SHIFT}
        self._x_sync_modifiers(target)
        self._fake(X.KeyPress, keycode)
        self._held_keys[keycode] = None
        if action == "press":
            self._fake(X.KeyRelease, keycode)
            del self._held_keys[keycode]
            self._x_sync_modifiers(frozenset())
        self._finish()

    def _x_type_text(self, text: str) -> None:
        codes: list[tuple[int, bool]] = []
        for character in text:
            resolved = resolve_key(character) if is_printable(character) else None
            if resolved is None:
                raise InjectionError("unmapped_key", "text holds a character that is not ASCII")
            codes.append(self._keycode(resolved.keysym))
        self._x_release_keys()
        for keycode, needs_shift in codes:
            self._x_sync_modifiers(frozenset({Modifier.SHIFT}) if needs_shift else frozenset())
            self._fake(X.KeyPress, keycode)
            self._fake(X.KeyRelease, keycode)
        self._x_sync_modifiers(frozenset())
        self._finish()

    def _x_release_all(self) -> None:
        if self._display is None:
            return
        try:
            self._x_release_keys()
            for modifier in reversed(_MODIFIER_ORDER):
                keycode = self._held_modifiers.pop(modifier, None)
                if keycode is not None:
                    self._fake(X.KeyRelease, keycode)
            for number in reversed(list(self._held_buttons)):
                self._fake(X.ButtonRelease, number)
            self._finish()
        finally:
            # Whatever happened, nothing is ours any more (a dead connection holds nothing).
            self._held_keys.clear()
            self._held_modifiers.clear()
            self._held_buttons.clear()
