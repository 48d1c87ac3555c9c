"""Serves the resident screen on the loopback interface only.

The page gets the whole `View` over a WebSocket whenever it changes and sends back the
resident's touches. Pages from any other origin are refused (a site open in another tab
must not drive the kiosk), and the strict security headers forbid inline script.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import WSMsgType, web

from edge.call.controller import LANGUAGES, CallController, View

log = structlog.get_logger("edge.resident")

HERE = Path(__file__).parent
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
RESIDENT_ACTIONS = frozenset({"start", "consent", "call", "cancel", "hangup", "done", "language"})
MAX_ACTION_BYTES = 1024


def translations(language: str) -> dict[str, str]:
    path = HERE / "i18n" / f"{language}.json"
    texts: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return texts


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class ResidentScreen:
    def __init__(self, controller: CallController, *, host: str, port: int) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("the resident screen listens on a loopback address only")
        self._controller = controller
        self._host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_security_headers], client_max_size=MAX_ACTION_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/i18n/{language}.json", self._i18n)
        app.router.add_get("/ws", self._socket)
        app.router.add_static("/static/", HERE / "static")
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        log.info("resident_screen_listening", url=self.url)

    async def stop(self) -> None:
        # The kiosk's browser keeps its socket open: close it, or shutdown waits for it.
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "index.html")

    async def _i18n(self, request: web.Request) -> web.StreamResponse:
        language = request.match_info["language"]
        if language not in LANGUAGES:
            raise web.HTTPNotFound(text="no such language")
        return web.json_response(translations(language))

    def _allowed_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin in (f"http://{self._host}:{self.port}", f"http://localhost:{self.port}")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed_origin(request):
            log.warning("resident_socket_refused", reason="origin")
            raise web.HTTPForbidden(text="origin not allowed")
        socket = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_ACTION_BYTES)
        await socket.prepare(request)
        self._sockets.add(socket)
        with self._controller.watch() as views:
            await socket.send_json(self._controller.view.as_json())
            pusher = asyncio.create_task(self._push(socket, views))
            try:
                async for message in socket:
                    if message.type != WSMsgType.TEXT:
                        continue
                    await self._action(message.data)
            finally:
                pusher.cancel()
                self._sockets.discard(socket)
        return socket

    async def _push(self, socket: web.WebSocketResponse, views: asyncio.Queue[View]) -> None:
        while True:
            view = await views.get()
            await socket.send_json(view.as_json())

    async def _action(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            log.warning("resident_action_refused", reason="not JSON")
            return
        if not isinstance(data, dict) or data.get("action") not in RESIDENT_ACTIONS:
            log.warning("resident_action_refused", reason="unknown action")
            return
        action = data.pop("action")
        args = {k: v for k, v in data.items() if k in ("accepted", "language")}
        await self._controller.resident(action, **args)
