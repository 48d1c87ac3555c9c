"""The agent's recent log lines, kept in memory for `collect_logs`.

Logs should never hold personal data in the first place; the redaction here is a second
line of defence before anything leaves the kiosk: long digit runs (a My Number has 12
digits, card and phone numbers are long too) and e-mail addresses are masked.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import MutableMapping
from typing import Any

import structlog

DIGITS = re.compile(r"\d(?:[\s-]?\d){9,}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
MAX_LINE = 1000


def redact(text: str) -> str:
    return EMAIL.sub("[email]", DIGITS.sub("[number]", text))


class LogBuffer:
    def __init__(self, *, keep: int = 2000) -> None:
        self._lines: deque[str] = deque(maxlen=keep)

    def processor(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """A structlog processor: remembers the event, passes it on unchanged."""
        line = json.dumps(event_dict, default=str, ensure_ascii=False)
        self._lines.append(redact(line)[:MAX_LINE])
        return event_dict

    def install(self) -> None:
        """Add the buffer in front of the configured processors (once)."""
        processors = list(structlog.get_config()["processors"])
        if not any(getattr(p, "__self__", None) is self for p in processors):
            structlog.configure(processors=[self.processor, *processors])

    def recent(self, *, max_lines: int, max_bytes: int) -> tuple[tuple[str, ...], bool]:
        """The newest lines within both bounds, oldest first; and whether any were left out."""
        chosen: list[str] = []
        size = 0
        for line in reversed(self._lines):
            size += len(line.encode()) + 8
            if len(chosen) >= max_lines or size > max_bytes:
                return tuple(reversed(chosen)), True
            chosen.append(line)
        return tuple(reversed(chosen)), False


_process_buffer: LogBuffer | None = None


def process_buffer() -> LogBuffer:
    """The one buffer of this process (logging is process-wide), installed on first use."""
    global _process_buffer
    if _process_buffer is None:
        _process_buffer = LogBuffer()
    # Again on every use: logging reconfigured since (a command run in-process) would
    # otherwise have dropped the buffer. Installing twice is a no-op.
    _process_buffer.install()
    return _process_buffer
