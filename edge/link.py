"""The kiosk's MQTT link: one task owns the client, from connect to disconnect.

Every connection gets a new birth-death number: the Last Will set at CONNECT and the birth
published right after carry the same `bd_seq`, so the cloud can tell a stale will from a
live kiosk. Outgoing messages wait in the outbox until the broker acknowledges them.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.counters import Counters
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.telemetry.network import RoundTrips, clock_synchronized
from protocol.aio import wait_event
from protocol.backoff import Backoff
from protocol.errors import ProtocolError
from protocol.transport import client_tls_context, payload_bytes
from protocol.v1 import StateMessage, Topic, TopicKind, decode, encode, topic
from protocol.v1.messages import KioskMessage
from protocol.v1.presence import CLOUD_PREFIX, CLOUD_STATE_FILTER, decode_cloud_state

log = structlog.get_logger("edge.link")

StateFactory = Callable[[int, str, bool], Awaitable[StateMessage]]
MessageHandler = Callable[[Topic, KioskMessage], Awaitable[None]]

SESSION_EXPIRY_S = 3600  # commands sent during a short outage still arrive
TEARDOWN_S = 3.0  # the most a stop waits on the broker, per step
SUBSCRIBED = (TopicKind.COMMAND, TopicKind.CONFIG, TopicKind.CALL_DOWN, TopicKind.STATE)


class KioskLink:
    def __init__(
        self,
        *,
        settings: EdgeSettings,
        counters: Counters,
        outbox: Outbox,
        make_state: StateFactory,
        on_message: MessageHandler,
        clock_check: Callable[[], bool | None] = clock_synchronized,
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._outbox = outbox
        self._make_state = make_state
        self._on_message = on_message
        self._clock_check = clock_check
        self._stopping = asyncio.Event()
        self._reconnect = asyncio.Event()
        self.round_trips = RoundTrips()
        self._cloud_replicas: dict[str, str] = {}
        self.connected = asyncio.Event()
        self.connections = 0
        self._state_topic = topic(settings.kiosk_id, TopicKind.STATE)

    def stop(self) -> None:
        """Ask the link to publish `offline`, disconnect cleanly and return from `run`."""
        self._stopping.set()

    def reconnect(self) -> None:
        """End the current session cleanly and connect again (new TLS handshake, so new
        certificate files are read). Queued messages stay in the outbox."""
        self._reconnect.set()

    async def wait_for_clock(self) -> bool:
        """Certificates are checked against the clock, and a kiosk that boots with a wrong
        clock fails every TLS handshake: wait (bounded) until the host says its time is
        synchronised. Returns whether it is (or cannot be told)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.clock_sync_wait_s
        while self._clock_check() is False and not self._stopping.is_set():
            if loop.time() >= deadline:
                log.warning("clock_not_synchronized", waited_s=self._settings.clock_sync_wait_s)
                return False
            await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))
        return True

    async def run(self) -> None:
        backoff = Backoff(
            minimum=self._settings.reconnect_min_s, maximum=self._settings.reconnect_max_s
        )
        await self.wait_for_clock()
        while not self._stopping.is_set():
            bd_seq = self._counters.next_bd_seq()
            try:
                await self._session(bd_seq, backoff)
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as exc:
                log.warning("broker_unreachable", error=str(exc), bd_seq=bd_seq)
            finally:
                self.connected.clear()
                self._outbox.link_down()
            if self._stopping.is_set():
                return
            delay = backoff.next_delay()
            log.info("reconnecting", in_s=round(delay, 2))
            await wait_event(self._stopping, delay)

    @property
    def cloud_online(self) -> bool:
        """Whether any control-plane replica says it is online (retained presence)."""
        return any(status == "online" for status in self._cloud_replicas.values())

    def _cloud_presence(self, topic_name: str, payload: bytes) -> None:
        try:
            presence = decode_cloud_state(topic_name, payload)
        except ProtocolError as exc:
            log.warning("cloud_state_rejected", reason=exc.reason.value, topic=topic_name)
            return
        was_online = self.cloud_online
        self._cloud_replicas[presence.replica_id] = presence.status
        if self.cloud_online != was_online:
            log.info("cloud_presence", online=self.cloud_online, replica=presence.replica_id)

    def _client(self, will: StateMessage) -> aiomqtt.Client:
        connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_properties.SessionExpiryInterval = SESSION_EXPIRY_S
        return aiomqtt.Client(
            self._settings.broker_host,
            self._settings.broker_port,
            identifier=self._settings.kiosk_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=client_tls_context(
                self._settings.ca_file, self._settings.cert_file, self._settings.key_file
            ),
            keepalive=self._settings.keepalive_s,
            will=aiomqtt.Will(self._state_topic, encode(will), qos=1, retain=True),
            clean_start=False,
            properties=connect_properties,
            timeout=10,
        )

    async def _session(self, bd_seq: int, backoff: Backoff) -> None:
        self._reconnect.clear()  # this connection reads the files as they are now
        will = await self._make_state(bd_seq, "offline", True)
        async with self._client(will) as client:
            backoff.reset()
            self.connections += 1
            for kind in SUBSCRIBED:
                await client.subscribe(topic(self._settings.kiosk_id, kind), qos=1)
            await client.subscribe(CLOUD_STATE_FILTER, qos=1)
            await self._publish_birth(client, bd_seq)
            self.connected.set()
            self._outbox.link_up()
            log.info("connected", bd_seq=bd_seq, broker=self._settings.broker_host)
            tasks = {
                asyncio.create_task(self._send(client), name="mqtt-send"),
                asyncio.create_task(self._receive(client, bd_seq), name="mqtt-receive"),
                asyncio.create_task(self._stopping.wait(), name="stop"),
                asyncio.create_task(self._reconnect.wait(), name="reconnect"),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                # Bounded: a publish stuck on a frozen broker must not hold the stop.
                _, stuck = await asyncio.wait(tasks, timeout=TEARDOWN_S)
                if stuck:
                    log.warning("session_tasks_stuck", tasks=[t.get_name() for t in stuck])
            for task in done:
                if task.get_name() not in ("stop", "reconnect") and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if self._reconnect.is_set() and not self._stopping.is_set():
                # A clean DISCONNECT: the broker drops the will, the next birth follows.
                self._reconnect.clear()
                log.info("reconnecting_on_request", bd_seq=bd_seq)
                return
            # Stopping: say goodbye with the same bd_seq so the cloud applies it at once.
            goodbye = await self._make_state(bd_seq, "offline", False)
            try:
                async with asyncio.timeout(TEARDOWN_S):
                    await client.publish(self._state_topic, encode(goodbye), qos=1, retain=True)
            except TimeoutError:
                # The cloud learns it from the keepalive and the will instead.
                log.warning("goodbye_not_acknowledged", bd_seq=bd_seq)
            log.info("disconnected", bd_seq=bd_seq)

    async def _publish_birth(self, client: aiomqtt.Client, bd_seq: int) -> None:
        birth = await self._make_state(bd_seq, "online", False)
        await client.publish(self._state_topic, encode(birth), qos=1, retain=True)

    async def _send(self, client: aiomqtt.Client) -> None:
        # A fleet back from an outage must not storm the broker: replay at a paced rate.
        replay_gap = 1.0 / self._settings.replay_rate_per_s
        historical = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        historical.UserProperty = [("historical", "1")]
        while True:
            item = await self._outbox.peek()
            started = time.monotonic()
            await client.publish(
                topic(self._settings.kiosk_id, item.kind),
                item.payload,
                qos=1,
                retain=item.retain,
                properties=historical if item.historical else None,
            )
            self.round_trips.add(time.monotonic() - started)
            self._outbox.ack(item)
            self._outbox.settle()
            if item.historical:
                await asyncio.sleep(replay_gap)

    async def _receive(self, client: aiomqtt.Client, bd_seq: int) -> None:
        async for message in client.messages:
            if message.topic.value.startswith(CLOUD_PREFIX + "/"):
                self._cloud_presence(message.topic.value, payload_bytes(message.payload))
                continue
            try:
                parsed_topic, parsed = decode(message.topic.value, payload_bytes(message.payload))
            except ProtocolError as exc:
                log.warning(
                    "message_rejected",
                    reason=exc.reason.value,
                    detail=exc.detail,
                    topic=message.topic.value,
                )
                continue
            if isinstance(parsed, StateMessage):
                if parsed.status == "offline" and parsed.bd_seq != bd_seq:
                    # A will from an older connection overwrote our retained birth.
                    log.info("stale_will_seen", stale_bd_seq=parsed.bd_seq, bd_seq=bd_seq)
                    await self._publish_birth(client, bd_seq)
                continue
            try:
                await self._on_message(parsed_topic, parsed)
            except Exception:
                log.exception("handler_failed", kind=parsed_topic.kind.value)
