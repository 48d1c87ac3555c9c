"""Talking to the control plane's probe endpoint (`/api/kiosk-probe`, cloud/site_checks).

Every answer carries the server's receive and send times (unix seconds) in headers, so one
request gives the four timestamps of NTP's on-wire exchange: t1 sent here, t2 received
there, t3 sent there, t4 received here. The round trip without the server's own time is
(t4 - t1) - (t3 - t2); the offset of the server's clock to ours is ((t2 - t1) + (t3 - t4)) / 2.
"""

from __future__ import annotations

import os
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx

RECEIVED_HEADER = "X-Probe-Received-At"
SENT_HEADER = "X-Probe-Sent-At"
KIOSK_HEADER = "X-Probe-Kiosk"


class ProbeError(Exception):
    """The probe could not be used; the message says why, in a technician's words."""


@dataclass(frozen=True, slots=True)
class ProbeSample:
    t1: float
    t2: float
    t3: float
    t4: float

    @property
    def delay_s(self) -> float:
        return max(0.0, (self.t4 - self.t1) - (self.t3 - self.t2))

    @property
    def offset_s(self) -> float:
        """How far the control plane's clock is ahead of the kiosk's (negative: behind)."""
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2


def _timestamps(response: httpx.Response) -> tuple[float, float]:
    try:
        return float(response.headers[RECEIVED_HEADER]), float(response.headers[SENT_HEADER])
    except (KeyError, ValueError):
        raise ProbeError("the probe endpoint sent no timestamps (is the URL right?)") from None


def _refused(response: httpx.Response) -> ProbeError:
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            detail = ": " + body["detail"][:100]
    except ValueError:
        pass
    return ProbeError(f"the probe endpoint answered HTTP {response.status_code}{detail}")


class ProbeClient:
    """One keep-alive HTTP connection to the probe, authenticated by the run's token."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        kiosk_id: str,
        timeout_s: float,
        ca_file: Path | None = None,
    ) -> None:
        self.url = url
        self.host = urlsplit(url).netloc
        # The system's CA store (as the OS's own tools trust), or the given anchor.
        verify = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", KIOSK_HEADER: kiosk_id},
            timeout=timeout_s,
            verify=verify,
            # The probe's bytes are random: nothing to gain, and sizes must be exact.
            follow_redirects=False,
        )

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    def _unreachable(self, exc: httpx.HTTPError) -> ProbeError:
        if isinstance(exc, httpx.TimeoutException):
            return ProbeError(f"no answer from the control plane at {self.host} (timeout)")
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ProbeError(
                f"the control plane's certificate did not verify ({cause.verify_message})"
            )
        return ProbeError(
            f"cannot reach the control plane at {self.host}: {exc or type(exc).__name__}"
        )

    async def sample(self) -> ProbeSample:
        """One small request: four timestamps."""
        t1 = time.time()
        started = time.perf_counter()
        try:
            response = await self._client.get(self.url, params={"bytes": 0})
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        t4 = t1 + (time.perf_counter() - started)
        if response.status_code != 200:
            raise _refused(response)
        t2, t3 = _timestamps(response)
        return ProbeSample(t1, t2, t3, t4)

    async def download(self, size: int) -> float:
        """Seconds to receive `size` bytes, from the request to the last byte."""
        received = 0
        started = time.perf_counter()
        try:
            async with self._client.stream("GET", self.url, params={"bytes": size}) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _refused(response)
                async for chunk in response.aiter_raw():
                    received += len(chunk)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        elapsed = time.perf_counter() - started
        if received != size:
            raise ProbeError(f"the probe sent {received} bytes instead of {size}")
        return elapsed

    async def upload(self, size: int) -> float:
        """Seconds to send `size` bytes and hear that all arrived."""
        body = os.urandom(size)  # incompressible, like camera video
        started = time.perf_counter()
        try:
            response = await self._client.post(
                self.url, content=body, headers={"Content-Type": "application/octet-stream"}
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise _refused(response)
        try:
            counted = response.json().get("received_bytes")
        except (ValueError, AttributeError):
            counted = None
        if counted != size:
            raise ProbeError(f"the probe counted {counted} bytes instead of {size}")
        return elapsed
