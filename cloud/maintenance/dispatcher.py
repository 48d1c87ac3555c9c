"""Hands queued commands to the broker and times out unanswered ones.

Runs in every replica; `FOR UPDATE SKIP LOCKED` (PostgreSQL) gives each command to one.
MQTT 5 properties carry the command id as correlation data and its expiry as the message
expiry interval, so the broker drops a command that could no longer be run.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.fleet.consumer import BrokerUnavailableError, FleetConsumer, cloud_seq
from cloud.maintenance import rollouts, service
from protocol.aio import wait_event
from protocol.v1 import TopicKind, encode, topic

log = structlog.get_logger("cloud.maintenance")


class CommandDispatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        link: FleetConsumer,
        interval_s: float = 1.0,
        grace: timedelta = timedelta(seconds=30),
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._interval_s = interval_s
        self._grace = grace
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A command was issued: send it now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            await wait_event(self._wake, self._interval_s)
            self._wake.clear()
            try:
                if await self.advance_rollouts():
                    self._wake.set()  # send the new wave at once
                if self._link.connected.is_set():
                    await self.send_due()
                await self.sweep()
            except Exception:
                log.exception("dispatch_failed")

    async def send_due(self) -> int:
        sent = 0
        now = datetime.now(UTC)
        async with self._sessions() as db, db.begin():
            for command in await service.due_for_sending(db=db, now=now):
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = command.command_id.encode()
                left = (command.expires_at - now).total_seconds()
                properties.MessageExpiryInterval = max(1, int(left))
                message = service.to_message(command, seq=cloud_seq())
                try:
                    await self._link.publish(
                        topic(command.kiosk_id, TopicKind.COMMAND),
                        encode(message),
                        properties=properties,
                    )
                except (BrokerUnavailableError, TimeoutError):
                    break  # stays queued; the next tick tries again
                await service.mark_sent(db=db, command=command)
                sent += 1
        return sent

    async def advance_rollouts(self) -> int:
        async with self._sessions() as db, db.begin():
            return await rollouts.advance(db=db, now=datetime.now(UTC))

    async def sweep(self) -> int:
        async with self._sessions() as db, db.begin():
            return await service.time_out_unanswered(
                db=db, now=datetime.now(UTC), grace=self._grace
            )
