"""`clock`: the offset to the control plane's clock, and whether the OS says it is synced.

The offset comes from the probe's four timestamps (edge/site_check/probe.py), taking the
sample with the shortest round trip as NTP's clock filter does: its offset error is at most
half its round trip.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence

from edge.site_check.items import at_most, failed
from edge.site_check.probe import ProbeSample
from protocol.v1 import SiteCheckItem
from protocol.v1.messages import SiteCheckName

NAME: SiteCheckName = "clock"


async def os_ntp_synchronized(timeout_s: float = 3.0) -> str:
    """`yes`/`no` from `timedatectl`, or why it cannot be told."""
    executable = shutil.which("timedatectl")
    if executable is None:
        return "unknown (no timedatectl)"
    try:
        process = await asyncio.create_subprocess_exec(
            executable,
            "show",
            "--property=NTPSynchronized",
            "--value",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(timeout_s):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        return "unknown (timedatectl did not answer)"
    except OSError:
        return "unknown (timedatectl cannot run)"
    answer = out.decode(errors="replace").strip()
    if process.returncode != 0 or answer not in ("yes", "no"):
        return "unknown (no systemd time service)"
    return answer


def clock_item(samples: Sequence[ProbeSample], *, limit_s: float, os_sync: str) -> SiteCheckItem:
    if not samples:
        return failed(
            NAME,
            f"no probe answer to compare clocks; OS NTP sync: {os_sync}",
            unit="s",
            limit=limit_s,
        )
    best = min(samples, key=lambda sample: sample.delay_s)
    offset = best.offset_s
    side = "ahead of" if offset >= 0 else "behind"
    return at_most(
        NAME,
        abs(offset),
        limit_s,
        "s",
        f"control plane {abs(offset):.3f} s {side} this kiosk (±{best.delay_s / 2:.3f} s); "
        f"OS NTP sync: {os_sync}",
    )
