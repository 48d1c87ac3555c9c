"""Keeps every kiosk's retained configuration on the current consent versions.

Only the consent fields are sent (the message leaves the rest of the kiosk's configuration
as it is), and only once a document has been recorded: until then kiosks keep the protocol's
default versions. A kiosk is sent the versions again when they change (a new version takes
effect, at midnight or when an admin records one) and after a control-plane restart; the
message is retained, so a kiosk that is offline gets it when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.fleet.consumer import BrokerUnavailableError, cloud_seq
from cloud.fleet.models import Kiosk
from cloud.privacy import service
from protocol.v1 import ConfigMessage, KioskConfig, TopicKind, decode, topic

log = structlog.get_logger("cloud.privacy")


class Link(Protocol):
    async def publish(self, topic_name: str, payload: bytes, *, retain: bool = False) -> None: ...


def consent_config_payload(
    kiosk_id: str, config: KioskConfig, *, version: int, now: datetime
) -> bytes:
    """A config message carrying only the consent versions, checked as strictly as a
    received one would be."""
    message = ConfigMessage.model_validate(
        {
            "schema": 1,
            "type": "config",
            "kiosk_id": kiosk_id,
            "sent_at": now,
            "seq": cloud_seq(),
            "version": version,
            "config": {
                "terms_version": config.terms_version,
                "privacy_version": config.privacy_version,
            },
        },
        strict=False,
    )
    payload = message.model_dump_json(by_alias=True, exclude_unset=True).encode()
    decode(topic(kiosk_id, TopicKind.CONFIG), payload)
    return payload


class ConsentConfigSync:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], link: Link, *, interval_s: float
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._interval_s = interval_s
        self._sent: dict[str, tuple[str, str]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def sync(self) -> int:
        """Publish the current versions to every kiosk not yet given them; returns how many."""
        now = datetime.now(UTC)
        async with self._sessions() as db:
            current = await service.current_versions(db=db, today=service.today_in_japan(now))
            if not current.recorded:
                return 0
            kiosk_ids = list(await db.scalars(select(Kiosk.kiosk_id)))
        config = current.kiosk_config()
        versions = (config.terms_version, config.privacy_version)
        sent = 0
        for kiosk_id in kiosk_ids:
            if self._sent.get(kiosk_id) == versions:
                continue
            payload = consent_config_payload(
                kiosk_id, config, version=current.config_version, now=now
            )
            try:
                await self._link.publish(topic(kiosk_id, TopicKind.CONFIG), payload, retain=True)
            except (BrokerUnavailableError, TimeoutError):
                break  # the next pass tries again
            self._sent[kiosk_id] = versions
            sent += 1
        if sent:
            log.info("consent_versions_sent", kiosks=sent, terms=versions[0], privacy=versions[1])
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:
                log.exception("consent_sync_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
