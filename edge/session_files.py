"""Files a resident's session produces (the face photo, form scans), kept only in RAM.

Each session gets its own directory under a RAM-backed root (`/dev/shm` by default), readable
by the agent's user only, removed when the session ends. Whatever a crash or power cut left
behind is removed when the agent starts, before the first resident is served.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import structlog

log = structlog.get_logger("edge.session_files")

# statfs f_type of the RAM-backed file systems (tmpfs, ramfs).
RAM_FILESYSTEMS = {0x01021994, 0x858458F6}


def is_ram_backed(path: Path) -> bool:
    """Whether `path` lives on tmpfs/ramfs (Linux); False when it cannot be told."""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            entries = [line.split()[:3] for line in mounts]
    except OSError:
        return False
    resolved = str(path.resolve())
    best = ("", "")
    for _device, mount_point, fs_type in entries:
        prefix = mount_point.rstrip("/") + "/"
        if (resolved + "/").startswith(prefix) and len(mount_point) >= len(best[0]):
            best = (mount_point, fs_type)
    return best[1] in ("tmpfs", "ramfs")


class SessionFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._current: Path | None = None

    @property
    def current(self) -> Path | None:
        return self._current

    def clean_stale(self) -> int:
        """Remove every session directory left from before (a crash, a power cut)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        if not is_ram_backed(self.root):
            log.warning("session_dir_not_in_ram", hint="set session_dir to a tmpfs path")
        removed = 0
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        if removed:
            log.info("session_files_removed_at_start", entries=removed)
        return removed

    def begin(self) -> Path:
        """A fresh, private directory for the session starting now."""
        self.end()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = self.root / uuid.uuid4().hex
        directory.mkdir(mode=0o700)
        self._current = directory
        return directory

    def write(self, name: str, data: bytes) -> Path:
        """Store a file in the current session (started on demand); `name` is a bare name."""
        if Path(name).name != name or name.startswith("."):
            raise ValueError("a session file name is a bare file name")
        directory = self._current or self.begin()
        path = directory / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return path

    def end(self) -> None:
        """Remove the session's files (the session is over)."""
        directory, self._current = self._current, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
