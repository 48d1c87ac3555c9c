"""The kiosk agent: the top object that wires the layers together and runs them."""

from __future__ import annotations

import asyncio
import base64
import os
import platform
import signal
from collections.abc import Coroutine
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from uuid import UUID

import structlog

from edge import maintenance
from edge.call.controller import CallController
from edge.call.operator_tools import KioskDevices, OperatorTools
from edge.commands import CommandOutcome, CommandRouter
from edge.counters import Counters
from edge.link import KioskLink
from edge.logbuffer import LogBuffer, process_buffer
from edge.media.factory import PeerFactory
from edge.outbox import Outbox, Outgoing
from edge.peripherals.base import PeripheralDriver
from edge.peripherals.card_reader import CardReader
from edge.peripherals.registry import PeripheralRegistry
from edge.peripherals.tenkey import EvdevTenkey
from edge.renewal import CertificateRenewer
from edge.resident.server import ResidentScreen
from edge.session import ResidentSession
from edge.session_files import SessionFiles
from edge.settings import EdgeSettings
from edge.site_check import report as site_check_report
from edge.site_check.runner import run_site_check
from edge.site_check.settings import SiteCheckLimits
from edge.store import DiskQueue
from edge.telemetry.host import HostSampler
from edge.telemetry.network import clock_synchronized, default_route_interface, link_type
from edge.updates import RELEASE_ENV, Releases, UpdateState
from protocol.aio import wait_event
from protocol.v1 import (
    CallMessage,
    CommandMessage,
    CommandResultMessage,
    ConfigMessage,
    EventMessage,
    KioskConfig,
    LogBundleMessage,
    NetworkHealth,
    Peripheral,
    ScreenshotMessage,
    StateMessage,
    TelemetryMessage,
    Topic,
    TopicKind,
    encode,
)
from protocol.v1.messages import EventName, KioskMessage, PeripheralName

log = structlog.get_logger("edge.agent")


def agent_version() -> str:
    """The release the launcher started (edge/updates.py), else the installed package's."""
    release = os.environ.get(RELEASE_ENV)
    if release:
        return release[:64]
    try:
        return version("madoguchi")
    except PackageNotFoundError:
        return "0.0.0+source"


def os_version() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())[:128]
    except OSError:
        return platform.platform()[:128]


class KioskAgent:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        peripherals: PeripheralRegistry | None = None,
        sampler: HostSampler | None = None,
        logs: LogBuffer | None = None,
        site_check_limits: SiteCheckLimits | None = None,
    ) -> None:
        self.settings = settings
        self.site_check_limits = site_check_limits
        self.counters = Counters(settings.state_dir)
        self.disk_queue = (
            DiskQueue(
                settings.state_dir / "outbox.sqlite3",
                max_rows=settings.disk_queue_max_rows,
                telemetry_ttl_s=settings.telemetry_ttl_s,
            )
            if settings.store_and_forward
            else None
        )
        self.outbox = Outbox(settings.outbox_limit, disk=self.disk_queue)
        self.card_reader = card_reader(settings)
        self.tenkey = EvdevTenkey(settings.tenkey) if settings.tenkey else None
        real: dict[PeripheralName, PeripheralDriver] = {}
        if self.card_reader is not None:
            real["card_reader"] = self.card_reader
        if self.tenkey is not None:
            real["tenkey"] = self.tenkey
        self.peripherals = peripherals or PeripheralRegistry.declared(
            settings.peripherals, simulate=settings.simulate_peripherals, real=real
        )
        self.sampler = sampler or HostSampler()
        self.config = KioskConfig(telemetry_interval_s=settings.telemetry_interval_s)
        self.session = ResidentSession()
        self.restart_requested = False
        self.logs = logs or process_buffer()
        self.commands = CommandRouter(kiosk_id=settings.kiosk_id)
        self._versions = (agent_version(), os_version())
        self.exit_code = 0
        self.update_state = UpdateState(settings.state_dir)
        updater = (
            maintenance.Updater(
                releases=Releases(settings.releases_dir),
                state=self.update_state,
                installer=settings.installer,
                health_timeout_s=settings.update_health_timeout_s,
                running_version=self._versions[0],
            )
            if settings.releases_dir is not None
            else None
        )
        maintenance.register(
            self.commands,
            agent=self,
            peripherals=self.peripherals,
            logs=self.logs,
            reboot_command=settings.reboot_command,
            later=lambda delay, action: asyncio.get_running_loop().call_later(delay, action),
            updater=updater,
        )
        self._interval_changed = asyncio.Event()
        self.link = KioskLink(
            settings=settings,
            counters=self.counters,
            outbox=self.outbox,
            make_state=self._state,
            on_message=self._on_message,
        )
        self.renewer = (
            CertificateRenewer(
                settings,
                reconnect=self.link.reconnect,
                wait_idle=self.session.wait_idle,
                report_failure=self._renewal_failed,
            )
            if settings.control_plane_url
            else None
        )
        self._background: set[asyncio.Task[None]] = set()
        self._link_type = link_type(default_route_interface())
        self._peripheral_status: dict[str, str] = {}
        # Per kiosk: two agents on one machine (the demo) must not wipe each other's files.
        self.session_files = SessionFiles(settings.session_dir / settings.kiosk_id)
        self.tools = OperatorTools(
            KioskDevices(
                card_reader=self.card_reader,
                document_camera=settings.document_camera,
                display=remote_display(settings),
            ),
            self.session_files,
        )
        self.calls = CallController(
            send=self._send_call,
            consent_versions=lambda: (self.config.terms_version, self.config.privacy_version),
            make_peer=PeerFactory(settings),
            session=self.session,
            tools=self.tools,
        )
        self.resident_screen = (
            ResidentScreen(self.calls, host=settings.resident_host, port=settings.resident_port)
            if settings.calls
            else None
        )

    # --- messages -------------------------------------------------------------------------

    def _envelope(self) -> dict[str, object]:
        return {
            "kiosk_id": self.settings.kiosk_id,
            "sent_at": datetime.now(UTC),
            "seq": self.counters.next_seq(),
        }

    async def _state(self, bd_seq: int, status: str, will: bool) -> StateMessage:
        peripherals = await self.peripherals.statuses() if status == "online" else ()
        return StateMessage.model_validate(
            {
                **self._envelope(),
                "status": status,
                "bd_seq": bd_seq,
                "will": will,
                "site_id": self.settings.site_id,
                "agent_version": self._versions[0],
                "os_version": self._versions[1],
                "peripherals": peripherals,
            },
            strict=False,
        )

    def emit_event(
        self,
        name: EventName,
        *,
        severity: str = "info",
        peripheral: str | None = None,
        **attributes: bool | int | float | str,
    ) -> None:
        event = EventMessage.model_validate(
            {
                **self._envelope(),
                "name": name,
                "severity": severity,
                "peripheral": peripheral,
                "attributes": attributes,
            },
            strict=False,
        )
        self.outbox.put(Outgoing(TopicKind.EVENT, encode(event)))

    def _renewal_failed(self, attempt: int, reason: str, retry_in_s: float) -> None:
        self.emit_event(
            "error",
            severity="warning",
            operation="certificate_renewal",
            attempt=attempt,
            reason=reason,
            retry_in_s=round(retry_in_s, 1),
        )

    def _peripheral_changes(self, statuses: tuple[Peripheral, ...]) -> None:
        """An event when a peripheral stops or starts working: the uptime report counts a
        window without its card reader as not serviceable from that moment."""
        for peripheral in statuses:
            before = self._peripheral_status.get(peripheral.name)
            self._peripheral_status[peripheral.name] = peripheral.status
            if before is None or (before == "ok") == (peripheral.status == "ok"):
                continue
            if peripheral.status == "ok":
                self.emit_event("peripheral_connected", peripheral=peripheral.name)
            else:
                self.emit_event(
                    "peripheral_disconnected",
                    severity="error",
                    peripheral=peripheral.name,
                    status=peripheral.status,
                )

    async def telemetry(self) -> TelemetryMessage:
        statuses = tuple(await self.peripherals.statuses())
        self._peripheral_changes(statuses)
        return TelemetryMessage.model_validate(
            {
                **self._envelope(),
                "interval_s": self.config.telemetry_interval_s,
                "host": await self.sampler.sample(),
                "peripherals": statuses,
                "network": NetworkHealth(
                    broker_rtt_ms=self.link.round_trips.median_ms(),
                    link=self._link_type,
                    clock_synchronized=clock_synchronized(),
                ),
                "outbox_depth": len(self.outbox),
                "agent_version": self._versions[0],
                "call": self.calls.quality,
            },
            strict=False,
        )

    # --- incoming -------------------------------------------------------------------------

    def _send_call(self, action: str, call_id: UUID, **fields: object) -> bool:
        """Queue a call message ahead of everything else; False while offline (never kept)."""
        message = CallMessage.model_validate(
            {**self._envelope(), "call_id": call_id, "action": action, **fields}, strict=False
        )
        return self.outbox.put_urgent(Outgoing(TopicKind.CALL_UP, encode(message)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _on_message(self, _topic: Topic, message: KioskMessage) -> None:
        if isinstance(message, CallMessage):
            # Setting up media takes a moment; the receive loop keeps reading meanwhile.
            # The controller's lock keeps the call's messages in their order.
            self._spawn(self.calls.on_cloud(message))
        elif isinstance(message, CommandMessage):
            # Commands may take a while; the receive loop must keep reading.
            self._spawn(self._run_command(message))
        elif isinstance(message, ConfigMessage):
            self._apply_config(message)

    async def _run_command(self, command: CommandMessage) -> None:
        if command.name in maintenance.DISRUPTIVE and self.session.active and not command.force:
            self._send_result(
                command, CommandOutcome("deferred", "waiting for the resident's session to end")
            )
            await self.session.wait_idle()
        outcome = await self.commands.handle(command, now=datetime.now(UTC))
        self._send_result(command, outcome)

    def _send_result(self, command: CommandMessage, outcome: CommandOutcome) -> None:
        self._send_result_for(command.command_id, command.name, outcome)

    def _send_result_for(self, command_id: UUID, name: str, outcome: CommandOutcome) -> None:
        log.info(
            "command_answered", command=name, command_id=str(command_id), status=outcome.status
        )
        result = CommandResultMessage.model_validate(
            {
                **self._envelope(),
                "command_id": command_id,
                "name": name,
                "status": outcome.status,
                "detail": outcome.detail,
                "output": outcome.output,
            },
            strict=False,
        )
        self.outbox.put(Outgoing(TopicKind.COMMAND_RESULT, encode(result)))

    def _apply_config(self, message: ConfigMessage) -> None:
        # Only the fields the message carries: the cloud may send a part (the consent versions).
        update = message.config.model_dump(include=message.config.model_fields_set)
        self.apply_config(self.config.model_copy(update=update))
        self.emit_event("config_applied", version=message.version)

    def apply_config(self, config: KioskConfig) -> None:
        if config.telemetry_interval_s != self.config.telemetry_interval_s:
            self._interval_changed.set()
        self.config = config
        log.info("config_applied", telemetry_interval_s=config.telemetry_interval_s)

    def send_logs(self, command: CommandMessage, lines: tuple[str, ...], truncated: bool) -> None:
        bundle = LogBundleMessage.model_validate(
            {
                **self._envelope(),
                "command_id": command.command_id,
                "lines": lines,
                "truncated": truncated,
            },
            strict=False,
        )
        self.outbox.put(Outgoing(TopicKind.LOGS, encode(bundle)))

    @property
    def serving_resident(self) -> bool:
        return self.session.active

    @property
    def screen_source(self) -> str:
        return self.settings.screen_capture

    def send_screenshot(
        self, command: CommandMessage, jpeg: bytes, width: int, height: int
    ) -> None:
        shot = ScreenshotMessage.model_validate(
            {
                **self._envelope(),
                "command_id": command.command_id,
                "width": width,
                "height": height,
                "jpeg_base64": base64.b64encode(jpeg).decode(),
            },
            strict=False,
        )
        self.outbox.put(Outgoing(TopicKind.SCREENSHOT, encode(shot)))

    async def site_check(self, command: CommandMessage) -> CommandOutcome:
        """The connection test: `accepted` at once, then a `SiteCheckMessage` with every
        item; the outcome returned is the command's final result."""
        if self.session.active:
            # Megabytes of throughput test would disturb the resident's call.
            return CommandOutcome(
                "rejected", "a resident is being served: run the connection test before opening"
            )
        try:
            plan = site_check_report.plan_for(self.settings, command.args)
        except ValueError as exc:
            return CommandOutcome("rejected", str(exc))
        self._send_result(command, CommandOutcome("accepted", "connection test running"))
        items = await run_site_check(
            plan,
            limits=self.site_check_limits or SiteCheckLimits(),
            self_test=self.peripherals.self_test,
        )
        message = site_check_report.site_check_message(
            kiosk_id=self.settings.kiosk_id,
            site_id=self.settings.site_id,
            seq=self.counters.next_seq(),
            command_id=command.command_id,
            items=items,
        )
        self.outbox.put(Outgoing(TopicKind.SITE_CHECK, encode(message)))
        return site_check_report.outcome(items)

    def request_exit(self, code: int) -> None:
        """Stop with `code` (the launcher starts `current` again on the restart code)."""
        self.exit_code = code
        self.stop()

    async def _finish_update(self) -> None:
        """After an update: the new release confirms its health, or the previous release,
        put back by the launcher, reports the failure."""
        pending = self.update_state.pending()
        running = self._versions[0]
        if pending is None:
            return
        command_id = UUID(pending.command_id)
        if pending.state == "rolled_back" and running == pending.previous:
            await self.link.connected.wait()
            self._send_result_for(
                command_id,
                "update_agent",
                CommandOutcome(
                    "failed",
                    f"{pending.version} {pending.reason}; rolled back to {pending.previous}",
                ),
            )
            self.update_state.clear_pending()
        elif pending.state == "pending" and running == pending.version:
            await self.link.connected.wait()
            results = await self.peripherals.self_test()
            failing = [p.name for p in results if p.status != "ok"]
            if failing:
                log.error("update_health_check_failed", failing=failing)
                self.request_exit(1)  # the launcher rolls back
                return
            self._send_result_for(
                command_id,
                "update_agent",
                CommandOutcome(
                    "succeeded",
                    f"updated from {pending.previous} to {running}; connected and healthy",
                ),
            )
            self.update_state.clear_pending()

    def request_restart(self) -> None:
        """Stop now; `run_forever` starts a fresh agent (systemd restarts a dead process)."""
        self.restart_requested = True
        self.stop()

    # --- running --------------------------------------------------------------------------

    async def _telemetry_loop(self) -> None:
        while True:
            try:
                message = await self.telemetry()
                self.outbox.put(Outgoing(TopicKind.TELEMETRY, encode(message)))
            except Exception:
                log.exception("telemetry_failed")
            self._interval_changed.clear()
            await wait_event(self._interval_changed, self.config.telemetry_interval_s)

    async def run(self) -> None:
        """Run until `stop()` (or SIGTERM/SIGINT when installed by `run_forever`)."""
        log.info(
            "agent_starting",
            kiosk_id=self.settings.kiosk_id,
            site_id=self.settings.site_id,
            simulated=self.settings.simulate_peripherals,
        )
        self.emit_event("agent_started", version=self._versions[0])
        # Whatever a crash left of a resident's session goes before anyone is served.
        self.session_files.clean_stale()
        telemetry = asyncio.create_task(self._telemetry_loop(), name="telemetry")
        self._spawn(self._finish_update())
        if self.renewer is not None:
            self.renewer.recover()  # before the first connection reads the files
            self._spawn(self.renewer.run())
        if self.tenkey is not None:
            self._spawn(self._watch_tenkey(self.tenkey))
        if self.resident_screen is not None:
            await self.resident_screen.start()
        try:
            await self.link.run()
        finally:
            await self.calls.close()
            await self.tools.close()
            if self.resident_screen is not None:
                await self.resident_screen.stop()
            telemetry.cancel()
            for task in (telemetry, *self._background):
                task.cancel()
            await asyncio.gather(telemetry, *self._background, return_exceptions=True)
            if self.disk_queue is not None:
                self.disk_queue.close()
        log.info("agent_stopped", kiosk_id=self.settings.kiosk_id)

    def stop(self) -> None:
        self.link.stop()

    async def _watch_tenkey(self, tenkey: EvdevTenkey) -> None:
        async for enter in tenkey.keys():
            self.tools.tenkey_key(enter=enter)


def card_reader(settings: EdgeSettings) -> CardReader | None:
    spec = settings.card_reader
    if not spec:
        return None
    kind, _, name = spec.partition(":")
    if kind != "pcsc":
        raise ValueError(f"unknown card reader '{spec}' (pcsc or pcsc:NAME)")
    return CardReader(name or None)


def remote_display(settings: EdgeSettings) -> str | None:
    """The X display remote control drives: the one the screen track shows."""
    if not settings.remote_control:
        return None
    kind, _, display = settings.screen_capture.partition(":")
    if kind != "x11":
        return None
    if display:
        return display if display.startswith(":") else f":{display}"
    return os.environ.get("DISPLAY") or None


async def run_forever(settings: EdgeSettings) -> int:
    """Run the agent until a signal; a `restart_agent` command starts a fresh one. Returns
    the process exit code (the update's restart code asks the launcher for a new release)."""
    loop = asyncio.get_running_loop()
    while True:
        agent = KioskAgent(settings)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, agent.stop)
        await agent.run()
        if not agent.restart_requested:
            return agent.exit_code
        log.info("agent_restarting", kiosk_id=settings.kiosk_id)
