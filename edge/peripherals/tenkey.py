"""The tenkey (USB numeric keypad) through evdev, watched without being grabbed.

The keypad is an ordinary keyboard to the X server, so its keys reach the focused field on
the kiosk screen by themselves; the agent never grabs, injects or forwards them. It only
watches the device to learn *that* a key went down and whether it was Enter, which raises
and lowers the PIN guard (edge/privacy). Key values are dropped right here: nothing else in
the agent, the data channel, the logs or the cloud ever sees which digits were typed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import structlog

from protocol.v1.messages import Peripheral, PeripheralName

log = structlog.get_logger("edge.peripherals")

# The evdev constants (linux/input-event-codes.h), kept here so that this module's pure part
# imports without evdev installed.
EV_KEY = 0x01
KEY_DOWN = 1
ENTER_CODES = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER
RETRY_S = 2.0


def key_down(event_type: int, code: int, value: int) -> bool | None:
    """For one input event: None when it is not a key going down, else whether it is Enter.

    Auto-repeat (value 2) and releases (0) are not new keys.
    """
    if event_type != EV_KEY or value != KEY_DOWN:
        return None
    return code in ENTER_CODES


def find_device(paths: Iterable[str], names: Iterable[tuple[str, str]], match: str) -> str | None:
    """The first device path whose path or name contains `match` (case-insensitive)."""
    wanted = match.casefold()
    for path in paths:
        if wanted in path.casefold():
            return path
    for path, name in names:
        if wanted in name.casefold():
            return path
    return None


class EvdevTenkey:
    """The real keypad. `match` selects it by a part of its name or its /dev/input path
    (e.g. "by-id/usb-…-event-kbd" or "Keypad")."""

    def __init__(self, match: str) -> None:
        self._match = match
        self._path: str | None = None

    @property
    def name(self) -> PeripheralName:
        return "tenkey"

    @property
    def simulated(self) -> bool:
        return False

    def _locate(self) -> str | None:
        import glob

        import evdev

        paths = sorted(glob.glob("/dev/input/by-id/*")) + list(evdev.list_devices())
        names: list[tuple[str, str]] = []
        for path in evdev.list_devices():
            try:
                device = evdev.InputDevice(path)
            except OSError:
                continue
            names.append((path, device.name))
            device.close()
        return find_device(paths, names, self._match)

    async def status(self) -> Peripheral:
        self._path = await asyncio.to_thread(self._locate)
        if self._path is None:
            return Peripheral(name="tenkey", status="absent", simulated=False, detail="not found")
        return Peripheral(name="tenkey", status="ok", simulated=False)

    async def self_test(self) -> Peripheral:
        return await self.status()

    async def keys(self) -> AsyncIterator[bool]:
        """Yields, for every key going down, whether it was Enter; survives unplugging."""
        import evdev

        while True:
            path = self._path or await asyncio.to_thread(self._locate)
            if path is None:
                await asyncio.sleep(RETRY_S)
                continue
            try:
                device = evdev.InputDevice(path)
                try:
                    async for event in device.async_read_loop():
                        enter = key_down(event.type, event.code, event.value)
                        if enter is not None:
                            yield enter
                finally:
                    device.close()
            except OSError:
                log.warning("tenkey_lost")
                self._path = None
                await asyncio.sleep(RETRY_S)
