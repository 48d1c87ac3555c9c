"""Log-in attempts per client address: a moving window (`limits`), in this replica's
memory. With several replicas behind a proxy each enforces its own window; the per-account
lock-out (auth/service.py) holds across replicas."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class LoginLimiter:
    def __init__(self, per_minute: int) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(per_minute)

    async def allow(self, client: str) -> bool:
        return await self._limiter.hit(self._item, "login", client)


async def limit_logins(request: Request) -> None:
    """A dependency on the log-in endpoints: 429 beyond one address's allowance."""
    limiter: LoginLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    if not await limiter.allow(client):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many log-in attempts from this address; wait a minute",
            headers={"Retry-After": "60"},
        )
