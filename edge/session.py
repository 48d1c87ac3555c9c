"""Whether a resident is being served at this kiosk right now.

Disruptive maintenance (restart, reboot, update, screenshot) waits until the session ends
unless an admin forced it. The call work sets and clears the session.
"""

from __future__ import annotations

import asyncio


class ResidentSession:
    def __init__(self) -> None:
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> bool:
        return not self._idle.is_set()

    def begin(self) -> None:
        self._idle.clear()

    def end(self) -> None:
        self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()
