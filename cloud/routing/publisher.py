"""Sends `call/down` messages to kiosks through the control plane's MQTT link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.fleet.consumer import BrokerUnavailableError, FleetConsumer, cloud_seq
from protocol.v1 import CallMessage, TopicKind, encode, topic

log = structlog.get_logger("cloud.routing")

# Signaling is only useful fresh: the broker drops a call message older than this.
CALL_MESSAGE_EXPIRY_S = 60


class CallPublisher:
    def __init__(self, link: FleetConsumer | None) -> None:
        self.link = link

    async def send(self, kiosk_id: str, call_id: str, action: str, **fields: Any) -> bool:
        """True when the broker accepted the message; a broker outage is logged, not raised
        (the kiosk's own timeouts end a call whose signaling was lost)."""
        if self.link is None:
            return False
        message = CallMessage.model_validate(
            {
                "kiosk_id": kiosk_id,
                "sent_at": datetime.now(UTC),
                "seq": cloud_seq(),
                "call_id": call_id,
                "action": action,
                **fields,
            },
            strict=False,
        )
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.MessageExpiryInterval = CALL_MESSAGE_EXPIRY_S
        try:
            await self.link.publish(
                topic(kiosk_id, TopicKind.CALL_DOWN), encode(message), properties=properties
            )
        except (BrokerUnavailableError, TimeoutError) as exc:
            log.warning("call_message_not_sent", call_id=call_id, action=action, error=str(exc))
            return False
        return True
