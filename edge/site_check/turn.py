"""`turn`: allocate a relay on every TURN URL the control plane handed out, with the
ephemeral credential it made for this kiosk (aioice's TURN client, the one aiortc uses in
calls). Measured: the slowest allocation. A 401 means the credential was refused."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path

from aioice import stun
from aioice.turn import create_turn_endpoint

from edge.site_check.items import at_most, failed
from protocol.v1 import SiteCheckItem
from protocol.v1.messages import SiteCheckName

NAME: SiteCheckName = "turn"


class _Relay(asyncio.DatagramProtocol):
    """Receives nothing; tells when the allocation has been released."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _parse(url: str) -> tuple[str, int, str, bool]:
    # aiortc's parser: the same reading of turn:/turns: URLs as in a call.
    from aiortc.rtcicetransport import parse_stun_turn_uri

    parsed = parse_stun_turn_uri(url)
    return parsed["host"], parsed["port"], parsed["transport"], parsed["scheme"] == "turns"


async def allocate(
    url: str, *, username: str, credential: str, timeout_s: float, ca_file: Path | None
) -> float:
    """Milliseconds to allocate a relay on `url` (released again at once)."""
    host, port, transport, secure = _parse(url)
    context: ssl.SSLContext | None = None
    if secure:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    started = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        relay, protocol = await create_turn_endpoint(
            _Relay,
            server_addr=(host, port),
            username=username,
            password=credential,
            ssl=context,
            transport=transport,
        )
    elapsed_ms = (time.perf_counter() - started) * 1000
    relay.close()
    # Release the allocation rather than leave it to expire on the server.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(protocol.closed, 2.0)
    return elapsed_ms


def _why(url: str, exc: BaseException) -> str:
    if isinstance(exc, stun.TransactionFailed):
        code, reason = exc.response.attributes.get("ERROR-CODE", (0, ""))
        if code == 401:
            return f"{url}: credential refused (401 {reason})"
        return f"{url}: allocation refused ({code} {reason})"
    if isinstance(exc, (TimeoutError, stun.TransactionTimeout)):
        return f"{url}: no answer (timeout)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{url}: the relay's certificate did not verify ({exc.verify_message})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{url}: connection refused"
    if isinstance(exc, ValueError):
        return f"{url}: not a TURN URL ({exc})"
    return f"{url}: {type(exc).__name__} {exc}".strip()


async def check_turn(
    urls: tuple[str, ...],
    *,
    username: str | None,
    credential: str | None,
    limit_ms: float,
    timeout_s: float,
    ca_file: Path | None = None,
) -> SiteCheckItem:
    if not urls:
        return failed(
            NAME,
            "no TURN relay was given (none configured on the control plane)",
            unit="ms",
            limit=limit_ms,
        )
    if not username or not credential:
        return failed(NAME, "no TURN credential was given", unit="ms", limit=limit_ms)
    results = await asyncio.gather(
        *(
            allocate(
                url, username=username, credential=credential, timeout_s=timeout_s, ca_file=ca_file
            )
            for url in urls
        ),
        return_exceptions=True,
    )
    problems = [
        _why(url, r) for url, r in zip(urls, results, strict=True) if isinstance(r, BaseException)
    ]
    if problems:
        return failed(NAME, "; ".join(problems), unit="ms", limit=limit_ms)
    times = [r for r in results if isinstance(r, float)]
    detail = ", ".join(
        f"{url.split('?')[0]} {ms:.0f} ms" for url, ms in zip(urls, times, strict=True)
    )
    return at_most(NAME, max(times), limit_ms, "ms", f"relay allocated: {detail}")
