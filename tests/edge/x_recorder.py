"""A real X client for the injection tests: a window covering the screen, holding the input
focus, that records the key, button and motion events it receives (in its own thread, on its
own connection).

`barrier()` makes "nothing arrived" assertable without sleeping: it sends a ClientMessage to
the window from a second connection after the injector's call has returned (the injector
syncs, so the server has already queued every injected event to us); once the marker is
seen, everything injected before it has been recorded.
"""

from __future__ import annotations

import select
import threading
from dataclasses import dataclass
from typing import Any, Literal

from Xlib import X  # type: ignore[import-untyped]
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent  # type: ignore[import-untyped]

EventKind = Literal["key_press", "key_release", "button_press", "button_release", "motion"]

_KINDS: dict[int, EventKind] = {
    X.KeyPress: "key_press",
    X.KeyRelease: "key_release",
    X.ButtonPress: "button_press",
    X.ButtonRelease: "button_release",
    X.MotionNotify: "motion",
}
# Keysyms of the modifier keys (Shift, Control, Alt, Meta, Super, Hyper; left and right).
MODIFIER_KEYSYMS = frozenset(range(0xFFE1, 0xFFEF))


@dataclass(frozen=True)
class RecordedEvent:
    kind: EventKind
    detail: int  # keycode or button number
    keysym: int  # what the event means with its Shift state; 0 for pointer events
    state: int  # modifier/button mask before the event
    x: int  # root coordinates
    y: int


class XRecorder:
    def __init__(self, display_name: str) -> None:
        self._name = display_name
        self._events: list[RecordedEvent] = []
        self._marks: set[int] = set()
        self._next_mark = 0
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Any = None  # owned by the recorder thread once started
        self._control: Any = None  # owned by the test's thread (barrier, queries)
        self._window_id = 0
        self._mark_atom = 0

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        display = xdisplay.Display(self._name)
        screen = display.screen()
        window = screen.root.create_window(
            0,
            0,
            screen.width_in_pixels,
            screen.height_in_pixels,
            0,
            screen.root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=screen.white_pixel,
            override_redirect=True,  # no window manager on the test display
            event_mask=(
                X.KeyPressMask
                | X.KeyReleaseMask
                | X.ButtonPressMask
                | X.ButtonReleaseMask
                | X.PointerMotionMask
                | X.StructureNotifyMask
            ),
        )
        window.map()
        display.sync()
        # Focus can only go to a viewable window: wait for MapNotify first.
        while True:
            event = display.next_event()
            if event.type == X.MapNotify and event.window.id == window.id:
                break
        window.set_input_focus(X.RevertToParent, X.CurrentTime)
        display.sync()
        self._display = display
        self._window_id = window.id
        self._control = xdisplay.Display(self._name)
        self._mark_atom = self._control.intern_atom("MADOGUCHI_TEST_MARK")
        self._thread = threading.Thread(target=self._loop, name="x-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._display is not None:
            self._display.close()
        if self._control is not None:
            self._control.close()

    # --- recording (recorder thread) ------------------------------------------------------

    def _loop(self) -> None:
        display = self._display
        while not self._stopping.is_set():
            readable, _, _ = select.select([display.fileno()], [], [], 0.1)
            if not readable and not display.pending_events():
                continue
            while display.pending_events():
                self._record(display, display.next_event())

    def _record(self, display: Any, event: Any) -> None:
        if event.type == X.ClientMessage and event.client_type == self._mark_atom:
            with self._condition:
                self._marks.add(event.data[1][0])
                self._condition.notify_all()
            return
        kind = _KINDS.get(event.type)
        if kind is None:
            return
        keysym = 0
        if kind in ("key_press", "key_release"):
            index = 1 if event.state & X.ShiftMask else 0
            keysym = display.keycode_to_keysym(event.detail, index) or display.keycode_to_keysym(
                event.detail, 0
            )
        recorded = RecordedEvent(
            kind=kind,
            detail=event.detail,
            keysym=keysym,
            state=event.state,
            x=event.root_x,
            y=event.root_y,
        )
        with self._condition:
            self._events.append(recorded)
            self._condition.notify_all()

    # --- the test's side ------------------------------------------------------------------

    def clear(self) -> None:
        self.barrier()  # drain stragglers first, so they cannot land after the clear
        with self._condition:
            self._events.clear()

    def barrier(self, timeout: float = 5.0) -> list[RecordedEvent]:
        """Every event injected before this call, recorded (see the module docstring)."""
        self._next_mark += 1
        mark = self._next_mark
        window = self._control.create_resource_object("window", self._window_id)
        message = xevent.ClientMessage(
            window=window, client_type=self._mark_atom, data=(32, [mark, 0, 0, 0, 0])
        )
        window.send_event(message, event_mask=0, propagate=False)
        self._control.sync()
        with self._condition:
            if not self._condition.wait_for(lambda: mark in self._marks, timeout):
                raise TimeoutError("the X recorder did not see its marker")
            return list(self._events)

    def pressed_keycodes(self) -> list[int]:
        """Keycodes the server considers down (QueryKeymap)."""
        keymap = self._control.query_keymap()
        return [
            byte_index * 8 + bit
            for byte_index, byte in enumerate(keymap)
            for bit in range(8)
            if byte & (1 << bit)
        ]

    def pointer(self) -> tuple[int, int, int]:
        """Root x, y and the button/modifier mask (QueryPointer)."""
        reply = self._control.screen().root.query_pointer()
        return int(reply.root_x), int(reply.root_y), int(reply.mask)


def typed(events: list[RecordedEvent]) -> str:
    """The characters the window received (key presses of non-modifier keys), for printable
    ASCII keysyms; other keysyms as <0x…>."""
    out = []
    for event in events:
        if event.kind != "key_press" or event.keysym in MODIFIER_KEYSYMS:
            continue
        out.append(chr(event.keysym) if 0x20 <= event.keysym <= 0x7E else f"<{event.keysym:#x}>")
    return "".join(out)
