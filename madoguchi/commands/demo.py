"""`madoguchi demo`."""

from __future__ import annotations


def run_demo() -> None:
    """Run the control plane, a broker and two simulated kiosks on embedded defaults."""
    raise SystemExit("not yet")
