"""Asyncio helpers shared by the edge and the cloud."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait for `event` at most `seconds`; True if it was set.

    Not `wait_for` + `suppress(TimeoutError)`: on Python 3.11 a cancellation that arrives
    as the timeout expires comes out of `wait_for` as TimeoutError, the suppress swallows
    it, and the task loops on forever instead of stopping. `asyncio.timeout` keeps the two
    apart.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def until_first_done(*work: Coroutine[Any, Any, None]) -> None:
    """Run `work` concurrently until one part ends (a socket closed, a push loop failed),
    then cancel the others and wait for them."""
    tasks = [asyncio.create_task(part) for part in work]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
