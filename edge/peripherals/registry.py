"""The set of peripherals a kiosk declares."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from edge.peripherals.base import PeripheralDriver
from edge.peripherals.simulated import SimulatedPeripheral
from protocol.v1.messages import Peripheral, PeripheralName


class PeripheralRegistry:
    def __init__(self, drivers: Iterable[PeripheralDriver]) -> None:
        self._drivers = {driver.name: driver for driver in drivers}

    @classmethod
    def declared(cls, names: Iterable[PeripheralName], *, simulate: bool) -> PeripheralRegistry:
        if not simulate:
            # Real drivers arrive with the peripherals work; refusing beats pretending.
            raise NotImplementedError(
                "real peripheral drivers are not available yet; set simulate_peripherals"
            )
        return cls(SimulatedPeripheral(name) for name in names)

    def get(self, name: PeripheralName) -> PeripheralDriver:
        return self._drivers[name]

    async def statuses(self) -> tuple[Peripheral, ...]:
        return tuple(await asyncio.gather(*(d.status() for d in self._drivers.values())))

    async def self_test(self) -> tuple[Peripheral, ...]:
        return tuple(await asyncio.gather(*(d.self_test() for d in self._drivers.values())))
