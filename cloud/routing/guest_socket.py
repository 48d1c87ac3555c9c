"""A guest's WebSocket: the invite token is the only credential, valid once, for one call.

The guest receives the console's offer and answers; nothing else is accepted. When the call
ends or the guest leaves, the other side is told.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.routing import guests
from cloud.routing.models import CallRecord, CallState
from cloud.routing.router import CallRouter
from cloud.routing.signaling import GUEST_MESSAGE, MAX_CONSOLE_MESSAGE_BYTES, GuestAnswer
from protocol.aio import until_first_done, wait_event
from protocol.v1.codec import describe_validation_error

log = structlog.get_logger("cloud.guest")


class GuestSession:
    def __init__(
        self,
        *,
        websocket: WebSocket,
        call_id: str,
        sessions: async_sessionmaker[AsyncSession],
        router: CallRouter,
    ) -> None:
        self._ws = websocket
        self._call_id = call_id
        self._sessions = sessions
        self._router = router
        self._last_signal = 0

    async def run(self) -> None:
        await self._signal_operator("joined", None)
        log.info("guest_joined", call_id=self._call_id)
        try:
            await until_first_done(self._push(), self._receive())
        finally:
            await self._signal_operator("left", None)
            log.info("guest_left", call_id=self._call_id)

    async def _signal_operator(self, kind: str, sdp: str | None) -> None:
        async with self._sessions() as db, db.begin():
            call = await db.get(CallRecord, self._call_id)
            if call is None or call.state != CallState.CONNECTED:
                return
            await guests.post_signal(
                db=db,
                call_id=self._call_id,
                recipient="operator",
                kind=kind,
                sdp=sdp,
                now=datetime.now(UTC),
            )
        self._router.hub.notify()

    async def _push(self) -> None:
        with self._router.hub.watch() as changed:
            while True:
                changed.clear()
                async with self._sessions() as db, db.begin():
                    call = await db.get(CallRecord, self._call_id)
                    signals = await guests.signals_after(
                        db=db, call_id=self._call_id, recipient="guest", after_id=self._last_signal
                    )
                if call is None or call.state != CallState.CONNECTED:
                    await self._ws.send_json({"type": "ended"})
                    return
                for signal in signals:
                    self._last_signal = signal.id
                    await self._ws.send_json({"type": signal.kind, "sdp": signal.sdp})
                await wait_event(changed, self._router.settings.tick_s)

    async def _receive(self) -> None:
        while True:
            try:
                text = await self._ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(text) > MAX_CONSOLE_MESSAGE_BYTES:
                await self._ws.send_json({"type": "error", "detail": "message too large"})
                continue
            try:
                message = GUEST_MESSAGE.validate_json(text)
            except ValidationError as exc:
                detail = f"invalid message: {describe_validation_error(exc)}"
                await self._ws.send_json({"type": "error", "detail": detail})
                continue
            if isinstance(message, GuestAnswer):
                await self._signal_operator("answer", message.sdp)
