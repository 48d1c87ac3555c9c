"""A simulated peripheral: stands in where no device is attached (demo, tests, the first
cut of the agent). It always says it is simulated, so nobody mistakes it for hardware."""

from __future__ import annotations

from protocol.v1.messages import Peripheral, PeripheralName, PeripheralStatus


class SimulatedPeripheral:
    def __init__(self, name: PeripheralName, *, status: PeripheralStatus = "ok") -> None:
        self._name: PeripheralName = name
        self._status: PeripheralStatus = status

    @property
    def name(self) -> PeripheralName:
        return self._name

    @property
    def simulated(self) -> bool:
        return True

    def set_status(self, status: PeripheralStatus) -> None:
        """Change what the simulated device reports (used to rehearse faults)."""
        self._status = status

    async def status(self) -> Peripheral:
        return Peripheral(name=self._name, status=self._status, simulated=True)

    async def self_test(self) -> Peripheral:
        return await self.status()
