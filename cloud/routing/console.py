"""One operator console's WebSocket session.

The console is told the state it should show (presence, queue, its own call with the
kiosk's SDP offer) whenever that changes, and sends the operator's actions. Every action
is checked against the operator and the call it names; errors are answered on the socket,
which stays open. When the operator's last console closes, a call in progress is ended and
the kiosk told.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.models import StaffUser
from cloud.routing import guests, service
from cloud.routing.models import CallRecord, CallState, Presence
from cloud.routing.router import CallRouter
from cloud.routing.signaling import (
    CONSOLE_MESSAGE,
    MAX_CONSOLE_MESSAGE_BYTES,
    Accept,
    Answer,
    ConsoleMessage,
    GuestOffer,
    HangUp,
    Invite,
    Ping,
    RecordOutcome,
    SetPresence,
    SetTraining,
)
from cloud.turn.credentials import ice_servers_for
from protocol.aio import until_first_done, wait_event
from protocol.v1.codec import describe_validation_error

log = structlog.get_logger("cloud.console")

HEARTBEAT_EVERY_S = 10.0
# Consoles per operator on this replica: the operator signs out when the last one closes.
_open_consoles: Counter[int] = Counter()


class OperatorConsole:
    def __init__(
        self,
        *,
        websocket: WebSocket,
        user: StaffUser,
        sessions: async_sessionmaker[AsyncSession],
        router: CallRouter,
    ) -> None:
        self._ws = websocket
        self._user = user
        self._sessions = sessions
        self._router = router
        self._last_sent: str | None = None
        self._last_signal = 0  # the last guest signal relayed to this console

    async def run(self) -> None:
        _open_consoles[self._user.id] += 1
        try:
            async with self._sessions() as db, db.begin():
                await service.sign_in(db=db, user=self._user, now=datetime.now(UTC))
            settings = self._router.settings
            ice = [
                server.model_dump(exclude_none=True)
                for server in ice_servers_for(
                    settings.ice_servers,
                    settings.turn,
                    who=f"staff-{self._user.id}",
                    now=datetime.now(UTC),
                )
            ]
            await self._ws.send_json(
                {"type": "hello", "display_name": self._user.display_name, "ice_servers": ice}
            )
            await until_first_done(self._push_state(), self._receive())
        finally:
            _open_consoles[self._user.id] -= 1
            if _open_consoles[self._user.id] <= 0:
                del _open_consoles[self._user.id]
                await self._sign_out()

    async def _sign_out(self) -> None:
        with contextlib.suppress(Exception):
            async with self._sessions() as db, db.begin():
                ended = await service.sign_out(db=db, user=self._user, now=datetime.now(UTC))
            for end in ended:
                log.info("call_ended", call_id=end.call_id, reason=end.reason)
                await self._router.publisher.send(
                    end.kiosk_id, end.call_id, "ended", reason=end.reason
                )
            self._router.kick()
            self._router.hub.notify()

    # --- to the console -----------------------------------------------------------------------

    async def _push_state(self) -> None:
        last_heartbeat = time.monotonic()
        with self._router.hub.watch() as changed:
            while True:
                changed.clear()
                now = datetime.now(UTC)
                async with self._sessions() as db, db.begin():
                    if time.monotonic() - last_heartbeat >= HEARTBEAT_EVERY_S:
                        await service.heartbeat(db=db, user_id=self._user.id, now=now)
                        last_heartbeat = time.monotonic()
                    state = await self.snapshot(db)
                    signals = await self._guest_signals(db, state)
                text = json.dumps(state, ensure_ascii=False)
                if text != self._last_sent:
                    await self._ws.send_text(text)
                    self._last_sent = text
                for signal in signals:
                    await self._ws.send_json(signal)
                await wait_event(changed, self._router.settings.tick_s)

    async def _guest_signals(self, db: AsyncSession, state: dict[str, Any]) -> list[dict[str, Any]]:
        call = state.get("call")
        if not call or call["state"] != CallState.CONNECTED:
            return []
        signals = await guests.signals_after(
            db=db, call_id=call["call_id"], recipient="operator", after_id=self._last_signal
        )
        if signals:
            self._last_signal = signals[-1].id
        return [
            {"type": "guest", "call_id": s.call_id, "kind": s.kind, "sdp": s.sdp} for s in signals
        ]

    async def snapshot(self, db: AsyncSession) -> dict[str, Any]:
        presence = await service.presence_of(db=db, user_id=self._user.id)
        training = presence is not None and presence.training
        # In training mode the console sees only the training queue, otherwise only the real.
        waiting = await service.waiting_calls(db=db, training=training)
        call = await db.get(CallRecord, presence.call_id) if presence and presence.call_id else None
        return {
            "type": "state",
            "presence": presence.status if presence else Presence.OFFLINE.value,
            "training": training,
            "queue": [
                {
                    "call_id": w.call_id,
                    "kiosk_id": w.kiosk_id,
                    "site_id": w.site_id,
                    "state": w.state,
                    "position": w.position,
                    "requested_at": w.requested_at.isoformat(),
                    "ringing_here": call is not None
                    and w.call_id == call.call_id
                    and w.state == CallState.RINGING,
                }
                for w in waiting
            ],
            "call": _call_view(call) if call is not None else None,
        }

    # --- from the console ---------------------------------------------------------------------

    async def _receive(self) -> None:
        while True:
            try:
                text = await self._ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(text) > MAX_CONSOLE_MESSAGE_BYTES:
                await self._error("message too large")
                continue
            try:
                message = CONSOLE_MESSAGE.validate_json(text)
            except ValidationError as exc:
                await self._error(f"invalid message: {describe_validation_error(exc)}")
                continue
            try:
                await self._handle(message)
            except service.RoutingError as exc:
                await self._error(str(exc))
            self._router.hub.notify()

    async def _error(self, detail: str) -> None:
        await self._ws.send_json({"type": "error", "detail": detail})

    async def _handle(self, message: ConsoleMessage) -> None:
        now = datetime.now(UTC)
        user = self._user
        if isinstance(message, Ping):
            async with self._sessions() as db, db.begin():
                await service.heartbeat(db=db, user_id=user.id, now=now)
        elif isinstance(message, SetPresence):
            async with self._sessions() as db, db.begin():
                await service.set_presence(
                    db=db, user=user, status=Presence(message.status), now=now
                )
            self._router.kick()
        elif isinstance(message, SetTraining):
            async with self._sessions() as db, db.begin():
                await service.set_training(db=db, user=user, enabled=message.enabled, now=now)
            self._router.kick()
        elif isinstance(message, Accept):
            async with self._sessions() as db, db.begin():
                call = await service.accept(db=db, user=user, call_id=message.call_id, now=now)
                kiosk_id = call.kiosk_id
            log.info("call_accepted", call_id=message.call_id, operator_id=user.id)
            await self._router.publisher.send(
                kiosk_id,
                message.call_id,
                "assigned",
                operator_display_name=user.display_name,
                ice_servers=ice_servers_for(
                    self._router.settings.ice_servers,
                    self._router.settings.turn,
                    who=kiosk_id,
                    now=now,
                ),
            )
            self._router.kick()  # the other waiting kiosks move up
        elif isinstance(message, Answer):
            async with self._sessions() as db, db.begin():
                mine = await service.operator_call(db=db, user=user, call_id=message.call_id)
                if mine is None or mine.state != CallState.CONNECTED or mine.kiosk_offer is None:
                    raise service.RoutingError("no offer is waiting for an answer on this call")
                await service.mark_answer_sent(db=db, call=mine)
                kiosk_id = mine.kiosk_id
            await self._router.publisher.send(kiosk_id, message.call_id, "answer", sdp=message.sdp)
        elif isinstance(message, HangUp):
            async with self._sessions() as db, db.begin():
                ended = await service.hang_up(db=db, user=user, call_id=message.call_id, now=now)
            log.info("call_ended", call_id=ended.call_id, reason=ended.reason)
            await self._router.publisher.send(
                ended.kiosk_id, ended.call_id, "ended", reason=ended.reason
            )
        elif isinstance(message, Invite):
            async with self._sessions() as db, db.begin():
                token, expires_at = await guests.create_invite(
                    db=db, user=user, call_id=message.call_id, now=now
                )
            scheme = "https" if self._ws.url.scheme == "wss" else "http"
            await self._ws.send_json(
                {
                    "type": "invite",
                    "call_id": message.call_id,
                    "url": f"{scheme}://{self._ws.headers.get('host', '')}/join/{token}",
                    "expires_at": expires_at.isoformat(),
                }
            )
        elif isinstance(message, GuestOffer):
            async with self._sessions() as db, db.begin():
                mine = await service.operator_call(db=db, user=user, call_id=message.call_id)
                if mine is None or mine.state != CallState.CONNECTED:
                    raise service.RoutingError("no call in progress to share with a guest")
                await guests.post_signal(
                    db=db,
                    call_id=message.call_id,
                    recipient="guest",
                    kind="offer",
                    sdp=message.sdp,
                    now=now,
                )
        elif isinstance(message, RecordOutcome):
            async with self._sessions() as db, db.begin():
                await service.record_outcome(
                    db=db,
                    user=user,
                    call_id=message.call_id,
                    procedure=message.procedure,
                    outcome=message.outcome,
                    reason=message.reason,
                    now=now,
                )
            self._router.kick()


def _call_view(call: CallRecord) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "kiosk_id": call.kiosk_id,
        "site_id": call.site_id,
        "state": call.state,
        "language": call.language,
        "offer": call.kiosk_offer if call.state == CallState.CONNECTED else None,
        "answer_sent": call.answer_sent,
        "end_reason": call.end_reason,
        "needs_outcome": call.state == CallState.ENDED and call.outcome is None,
        "training": call.training,  # the console shows the 研修 banner
    }
