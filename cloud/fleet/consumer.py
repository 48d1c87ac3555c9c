"""The control plane's MQTT link: one task owns the aiomqtt client; it decodes every
message through `protocol`, applies it, and keeps running whatever arrives. Other tasks
publish by handing messages to it (`publish`).

`state` is subscribed without a shared group (MQTT 5 never delivers retained messages to
shared subscriptions, and every replica must see each kiosk's retained birth); the other
kiosk->cloud kinds use `$share/{group}/…` so replicas split them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from datetime import UTC, datetime
from typing import Literal, Protocol

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.fleet import service
from cloud.fleet.metrics import ConsumerMetrics
from cloud.fleet.summaries import HealthSummaries
from cloud.fleet.timeseries import TelemetryWriter
from cloud.maintenance import service as maintenance
from cloud.settings import BrokerSettings
from cloud.site_checks import service as site_checks
from protocol.backoff import Backoff
from protocol.errors import ProtocolError
from protocol.transport import client_tls_context, payload_bytes
from protocol.v1 import (
    CallMessage,
    CommandResultMessage,
    EventMessage,
    LogBundleMessage,
    ScreenshotMessage,
    SiteCheckMessage,
    StateMessage,
    TelemetryMessage,
    TopicKind,
    decode,
    subscription,
)
from protocol.v1.messages import KioskMessage
from protocol.v1.presence import CloudStateMessage, cloud_state_topic, encode_cloud_state

log = structlog.get_logger("cloud.consumer")


PUBLISH_TIMEOUT_S = 10.0
PERMANENT_DB_ERRORS = (IntegrityError, DataError, ProgrammingError)


class CallSignals(Protocol):
    """Where kiosk call messages and kiosk deaths go (the routing room implements it)."""

    async def on_kiosk_message(self, message: CallMessage, received_at: datetime) -> str: ...

    async def on_kiosk_offline(self, kiosk_id: str, received_at: datetime) -> None: ...


class BrokerUnavailableError(RuntimeError):
    pass


def cloud_seq() -> int:
    """`seq` for cloud-sent messages: microseconds, increasing across restarts, never reused."""
    return time.time_ns() // 1000


SHARED_KINDS = (
    TopicKind.TELEMETRY,
    TopicKind.EVENT,
    TopicKind.COMMAND_RESULT,
    TopicKind.CALL_UP,
    TopicKind.LOGS,
    TopicKind.SCREENSHOT,
    TopicKind.SITE_CHECK,
)


class FleetConsumer:
    def __init__(
        self,
        *,
        settings: BrokerSettings,
        sessions: async_sessionmaker[AsyncSession],
        metrics: ConsumerMetrics,
        summaries: HealthSummaries,
        timeseries: TelemetryWriter | None = None,
        calls: CallSignals | None = None,
    ) -> None:
        self._settings = settings
        self.calls = calls
        self._sessions = sessions
        self._metrics = metrics
        self._timeseries = timeseries
        self._summaries = summaries
        self.connected = asyncio.Event()
        self.connections = 0
        self._outgoing: asyncio.Queue[
            tuple[str, bytes, Properties | None, bool, asyncio.Future[None]]
        ] = asyncio.Queue()

    def subscriptions(self) -> list[str]:
        group = self._settings.shared_group
        return [subscription(TopicKind.STATE)] + [
            subscription(kind, shared_group=group) for kind in SHARED_KINDS
        ]

    @property
    def _presence_topic(self) -> str:
        return cloud_state_topic(self._settings.replica_id)

    def _presence(self, status: Literal["online", "offline"]) -> bytes:
        return encode_cloud_state(
            CloudStateMessage(
                replica_id=self._settings.replica_id, status=status, sent_at=datetime.now(UTC)
            )
        )

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._settings.session_expiry_s
        return properties

    def _tls(self) -> ssl.SSLContext:
        assert self._settings.ca_file and self._settings.cert_file and self._settings.key_file
        return client_tls_context(
            self._settings.ca_file, self._settings.cert_file, self._settings.key_file
        )

    async def publish(
        self,
        topic_name: str,
        payload: bytes,
        *,
        properties: Properties | None = None,
        retain: bool = False,
    ) -> None:
        """Hand a message to the task that owns the client; returns once the broker
        acknowledged it. Raises `BrokerUnavailableError` while disconnected."""
        if not self.connected.is_set():
            raise BrokerUnavailableError("the control plane is not connected to the broker")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._outgoing.put((topic_name, payload, properties, retain, done))
        await asyncio.wait_for(done, PUBLISH_TIMEOUT_S)

    async def run(self) -> None:
        backoff = Backoff(
            minimum=self._settings.reconnect_min_s, maximum=self._settings.reconnect_max_s
        )
        while True:
            try:
                async with aiomqtt.Client(
                    self._settings.host,
                    self._settings.port,
                    identifier=self._settings.client_id,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    tls_context=self._tls(),
                    keepalive=self._settings.keepalive_s,
                    timeout=10,
                    will=aiomqtt.Will(
                        self._presence_topic, self._presence("offline"), qos=1, retain=True
                    ),
                    # A persistent session: while this replica restarts, the broker keeps
                    # its share of kiosk messages instead of dropping them.
                    clean_start=False,
                    properties=self._connect_properties(),
                ) as client:
                    backoff.reset()
                    for name in self.subscriptions():
                        await client.subscribe(name, qos=1)
                    self.connections += 1
                    self.connected.set()
                    self._metrics.connected.set(1)
                    log.info("consumer_connected", broker=self._settings.host)
                    await client.publish(
                        self._presence_topic, self._presence("online"), qos=1, retain=True
                    )
                    try:
                        await self._serve(client)
                    except asyncio.CancelledError:
                        # Shutting down: say so, since a clean disconnect fires no will.
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(
                                client.publish(
                                    self._presence_topic,
                                    self._presence("offline"),
                                    qos=1,
                                    retain=True,
                                ),
                                2,
                            )
                        raise
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as exc:
                log.warning("broker_unreachable", error=str(exc))
            finally:
                self.connected.clear()
                self._metrics.connected.set(0)
                self._fail_pending()
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = {
            asyncio.create_task(self._receive(client), name="mqtt-receive"),
            asyncio.create_task(self._send(client), name="mqtt-send"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            user_properties = getattr(message.properties, "UserProperty", None) or []
            historical = ("historical", "1") in user_properties
            await self.handle(
                message.topic.value, payload_bytes(message.payload), historical=historical
            )

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic_name, payload, properties, retain, done = await self._outgoing.get()
            try:
                await client.publish(
                    topic_name, payload, qos=1, retain=retain, properties=properties
                )
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
                raise
            if not done.done():
                done.set_result(None)

    def _fail_pending(self) -> None:
        while not self._outgoing.empty():
            *_, done = self._outgoing.get_nowait()
            if not done.done():
                done.set_exception(BrokerUnavailableError("the broker connection was lost"))

    async def handle(self, topic_name: str, payload: bytes, *, historical: bool = False) -> str:
        """Apply one message; returns what happened (for tests and logs). Never raises."""
        received_at = datetime.now(UTC)
        try:
            topic, message = decode(topic_name, payload)
        except ProtocolError as exc:
            self._metrics.rejected.labels(exc.reason.value).inc()
            # The topic and reason only: the payload may hold anything.
            log.warning(
                "message_rejected",
                topic=topic_name,
                reason=exc.reason.value,
                detail=exc.detail,
                size=len(payload),
            )
            return f"rejected:{exc.reason.value}"
        self._metrics.received.labels(topic.kind.value).inc()
        try:
            if isinstance(message, TelemetryMessage):
                # No transaction per reading: the newest is batched into the registry, and
                # every reading goes to the time series.
                self._summaries.offer(message, received_at, historical=historical)
                if self._timeseries is not None:
                    # Waits when the store's buffer is full: back-pressure, not loss.
                    site = self._summaries.site_of.get(message.kiosk_id, "unknown")
                    await self._timeseries.write(message, site_id=site)
                return "telemetry:accepted"
            return await self._apply_with_retry(message, received_at, topic.kind.value)
        except Exception:
            self._metrics.handler_errors.labels(topic.kind.value).inc()
            log.exception("message_handling_failed", topic=topic_name, kind=topic.kind.value)
            return "error"

    async def _apply_with_retry(
        self, message: KioskMessage, received_at: datetime, kind: str
    ) -> str:
        """Apply in one transaction. While the database is unreachable, wait and retry:
        the message is already acknowledged to the broker, so giving up would lose it, and
        waiting holds back the rest (back-pressure) instead."""
        backoff = Backoff(minimum=0.2, maximum=5.0)
        while True:
            try:
                return await self._apply(message, received_at, kind)
            except (DBAPIError, OSError, ConnectionError) as exc:
                if isinstance(exc, PERMANENT_DB_ERRORS):
                    raise  # bad data, not a bad connection: retrying cannot help
                self._metrics.handler_errors.labels(kind).inc()
                delay = backoff.next_delay()
                log.warning(
                    "database_unavailable",
                    kind=kind,
                    error=type(exc).__name__,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)

    async def _apply(self, message: KioskMessage, received_at: datetime, kind: str) -> str:
        if isinstance(message, CallMessage):
            if self.calls is None:
                return "call:ignored"
            return await self.calls.on_kiosk_message(message, received_at)
        if isinstance(message, StateMessage):
            async with self._sessions() as db, db.begin():
                outcome = await service.apply_state(db=db, message=message, received_at=received_at)
            if outcome == service.StateOutcome.STALE:
                self._metrics.stale_states.inc()
            if message.status == "online":
                self._summaries.site_of[message.kiosk_id] = message.site_id
            elif outcome == service.StateOutcome.APPLIED and self.calls is not None:
                # A kiosk that died mid-call cannot hang up: end its call for it.
                await self.calls.on_kiosk_offline(message.kiosk_id, received_at)
            return f"state:{outcome}"
        async with self._sessions() as db, db.begin():
            if isinstance(message, ScreenshotMessage):
                stored = await maintenance.store_screenshot(db=db, message=message)
                return "screenshot:stored" if stored else "screenshot:ignored"
            if isinstance(message, SiteCheckMessage):
                stored = await site_checks.store_report(db=db, message=message, now=received_at)
                return "site_check:stored" if stored else "site_check:refused"
            if isinstance(message, LogBundleMessage):
                stored = await maintenance.store_logs(db=db, message=message)
                return "logs:stored" if stored else "logs:ignored"
            if isinstance(message, CommandResultMessage):
                applied = await maintenance.apply_result(db=db, message=message)
                return "cmd_result:applied" if applied else "cmd_result:ignored"
            if isinstance(message, EventMessage):
                applied = await service.apply_event(db=db, message=message, received_at=received_at)
                return "event:applied" if applied else "event:duplicate"
        return f"{kind}:ignored"
