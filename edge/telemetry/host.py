"""Host health from the real machine, read with psutil."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil

from protocol.v1.messages import HostHealth


class HostSampler:
    def __init__(self, *, disk_path: Path = Path("/")) -> None:
        self._disk_path = disk_path
        # psutil's first cpu_percent() call only starts the measurement window.
        psutil.cpu_percent(interval=None)

    def _read(self) -> HostHealth:
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(str(self._disk_path))
        return HostHealth(
            cpu_percent=float(psutil.cpu_percent(interval=None)),
            memory_percent=float(memory.percent),
            memory_used_bytes=int(memory.total - memory.available),
            disk_percent=float(disk.percent),
            disk_free_bytes=int(disk.free),
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
            load_1m=float(os.getloadavg()[0]),
            temperature_c=self._temperature(),
        )

    @staticmethod
    def _temperature() -> float | None:
        reader = getattr(psutil, "sensors_temperatures", None)
        if reader is None:
            return None
        readings = [t.current for sensor in reader().values() for t in sensor if t.current]
        return float(max(readings)) if readings else None

    async def sample(self) -> HostHealth:
        # statvfs and /sys reads can block on a sick disk; keep them off the event loop.
        return await asyncio.to_thread(self._read)
