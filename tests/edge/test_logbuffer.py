"""The kiosk's log buffer: redaction and bounds."""

from __future__ import annotations

from edge.logbuffer import LogBuffer, redact


def test_redaction_masks_long_numbers_and_emails() -> None:
    assert redact("my number 123456789012") == "my number [number]"
    assert redact("tel 090-1234-5678 ok") == "tel [number] ok"
    assert redact("pin 1234 stays") == "pin 1234 stays"  # short numbers are not personal ids
    assert redact("write to a.b+c@city.example.jp") == "write to [email]"


def test_recent_lines_respect_both_bounds() -> None:
    buffer = LogBuffer(keep=100)
    for index in range(50):
        buffer.processor(None, "info", {"event": "step", "index": index})
    lines, truncated = buffer.recent(max_lines=10, max_bytes=10_000)
    assert len(lines) == 10 and truncated
    assert '"index": 49' in lines[-1] and '"index": 40' in lines[0]
    lines, truncated = buffer.recent(max_lines=100, max_bytes=200)
    assert truncated and sum(len(x) for x in lines) <= 200
    everything, truncated = buffer.recent(max_lines=100, max_bytes=100_000)
    assert len(everything) == 50 and not truncated
