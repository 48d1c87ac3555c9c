"""Sequence numbers that keep increasing across restarts.

The message sequence number is reserved in blocks on disk so that a crash never reuses a
number (the cloud de-duplicates by (kiosk, seq)) while the disk is written only once per
block. Both counters are also floored at the wall clock in milliseconds, so a kiosk whose
state directory was wiped still starts above anything it sent before.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

SEQ_BLOCK = 1000


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Counters:
    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / "counters.json"
        state_dir.mkdir(parents=True, exist_ok=True)
        stored = self._load()
        self._bd_seq = max(stored.get("bd_seq", -1), _wall_ms() - 1)
        self._seq = max(stored.get("seq_reserved", 0), _wall_ms())
        self._seq_reserved = self._seq
        self._save()

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A torn or corrupt file: the wall-clock floor still keeps numbers increasing.
            return {}
        return {k: int(v) for k, v in data.items() if isinstance(v, int)}

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"bd_seq": self._bd_seq, "seq_reserved": self._seq_reserved}),
            encoding="utf-8",
        )
        os.replace(tmp, self._path)

    @property
    def bd_seq(self) -> int:
        return self._bd_seq

    def next_bd_seq(self) -> int:
        """A new birth-death number, for a new connection attempt."""
        self._bd_seq += 1
        self._save()
        return self._bd_seq

    def next_seq(self) -> int:
        self._seq += 1
        if self._seq > self._seq_reserved:
            self._seq_reserved = self._seq + SEQ_BLOCK
            self._save()
        return self._seq
