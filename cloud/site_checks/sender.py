"""Hands a run's commands to the broker, as the maintenance dispatcher does for its own
(correlation data = command id, message expiry = the command's)."""

from __future__ import annotations

from datetime import UTC, datetime

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.fleet.consumer import BrokerUnavailableError, FleetConsumer, cloud_seq
from cloud.site_checks.service import Dispatch
from protocol.v1 import TopicKind, encode, topic


async def publish(link: FleetConsumer, dispatches: list[Dispatch]) -> list[str]:
    """Publish each command; returns the ids of those the broker did not take."""
    unsent = []
    for dispatch in dispatches:
        command = dispatch.command
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = command.command_id.encode()
        left = (command.expires_at - datetime.now(UTC)).total_seconds()
        properties.MessageExpiryInterval = max(1, int(left))
        message = dispatch.message.model_copy(
            update={"seq": cloud_seq(), "sent_at": datetime.now(UTC)}
        )
        try:
            await link.publish(
                topic(command.kiosk_id, TopicKind.COMMAND), encode(message), properties=properties
            )
        except (BrokerUnavailableError, TimeoutError):
            unsent.append(command.command_id)
    return unsent
