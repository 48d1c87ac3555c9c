"""The interface every peripheral driver implements."""

from __future__ import annotations

from typing import Protocol

from protocol.v1.messages import Peripheral, PeripheralName


class PeripheralDriver(Protocol):
    @property
    def name(self) -> PeripheralName: ...

    @property
    def simulated(self) -> bool: ...

    async def status(self) -> Peripheral:
        """The current status, as reported in birth, telemetry and self-test."""
        ...

    async def self_test(self) -> Peripheral:
        """Exercise the device and report; may take longer than `status`."""
        ...
