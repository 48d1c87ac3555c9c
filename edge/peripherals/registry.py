"""The set of peripherals a kiosk declares."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from edge.peripherals.base import PeripheralDriver
from edge.peripherals.simulated import SimulatedPeripheral
from protocol.v1.messages import Peripheral, PeripheralName


class PeripheralRegistry:
    def __init__(self, drivers: Iterable[PeripheralDriver]) -> None:
        self._drivers = {driver.name: driver for driver in drivers}

    @classmethod
    def declared(
        cls,
        names: Iterable[PeripheralName],
        *,
        simulate: bool,
        real: Mapping[PeripheralName, PeripheralDriver] | None = None,
    ) -> PeripheralRegistry:
        """The declared peripherals: the `real` drivers configured, simulated stand-ins for
        the rest when `simulate` is set (each says it is simulated)."""
        real = real or {}
        drivers: list[PeripheralDriver] = []
        for name in names:
            if name in real:
                drivers.append(real[name])
            elif simulate:
                drivers.append(SimulatedPeripheral(name))
            else:
                # Refusing beats pretending: a kiosk must not report a device it cannot see.
                raise ValueError(f"no driver configured for the {name} and simulation is off")
        return cls(drivers)

    def get(self, name: PeripheralName) -> PeripheralDriver:
        return self._drivers[name]

    async def statuses(self) -> tuple[Peripheral, ...]:
        return tuple(await asyncio.gather(*(d.status() for d in self._drivers.values())))

    async def self_test(self) -> tuple[Peripheral, ...]:
        return tuple(await asyncio.gather(*(d.self_test() for d in self._drivers.values())))
