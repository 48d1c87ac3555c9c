"""`madoguchi bench routing`: call request → operator ringing through the real router.

The workload: `kiosks` call requests arriving at `rate` per second, `operators` operators
who accept each ring at once and end the call `handle_s` later. The peer, run in the same
process on the same arrival schedule, is a naive single-process in-memory queue (a deque of
calls and a deque of idle operators, assigned synchronously): the floor that a router
without a database, replicas or restarts could reach. The ratio compares assignment
throughput; the latencies are printed side by side.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from cloud.auth.models import Role, StaffUser
from cloud.db.engine import make_engine, make_sessionmaker, transaction
from cloud.db.migrate import upgrade
from cloud.routing import service
from cloud.routing.hub import RoutingHub
from cloud.routing.models import Outcome, Presence, Procedure
from cloud.routing.publisher import CallPublisher
from cloud.routing.router import CallRouter
from cloud.settings import CallSettings
from protocol.v1 import CallMessage


@dataclass
class Measured:
    name: str
    latencies: list[float] = field(default_factory=list)
    first_request: float = 0.0
    last_ring: float = 0.0

    @property
    def per_second(self) -> float:
        span = self.last_ring - self.first_request
        return len(self.latencies) / span if span > 0 else 0.0

    def line(self) -> str:
        ordered = sorted(self.latencies)
        return (
            f"{self.name:<22} {len(ordered):>5} rung  {self.per_second:8.1f} assignments/s  "
            f"request→ringing p50 {_pct(ordered, 0.50) * 1000:7.1f} ms  "
            f"p99 {_pct(ordered, 0.99) * 1000:7.1f} ms"
        )


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class RoutingResult:
    kiosks: int
    operators: int
    rate: float
    handle_s: float
    database: str
    router: Measured
    naive: Measured

    def report(self) -> str:
        ratio = self.router.per_second / self.naive.per_second if self.naive.per_second else 0
        return (
            f"routing: {self.kiosks} kiosks calling at {self.rate:.0f}/s against "
            f"{self.operators} operators (each call {self.handle_s:.2f} s), {self.database}\n"
            f"  {self.router.line()}\n  {self.naive.line()}\n"
            f"  ratio {ratio:.2f}x the naive queue's assignment rate"
        )


async def _naive(kiosks: int, operators: int, rate: float, handle_s: float) -> Measured:
    measured = Measured("naive in-memory queue")
    waiting: deque[tuple[int, float]] = deque()
    idle: deque[int] = deque(range(operators))
    pending: set[asyncio.Task[None]] = set()
    done = asyncio.Event()

    def dispatch() -> None:
        while waiting and idle:
            _, requested = waiting.popleft()
            operator = idle.popleft()
            now = time.perf_counter()
            measured.latencies.append(now - requested)
            measured.last_ring = now
            task = asyncio.create_task(handle(operator))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if len(measured.latencies) == kiosks:
            done.set()

    async def handle(operator: int) -> None:
        await asyncio.sleep(handle_s)
        idle.append(operator)
        dispatch()

    measured.first_request = time.perf_counter()
    for n in range(kiosks):
        await _arrival_gap(measured.first_request, n, rate)
        waiting.append((n, time.perf_counter()))
        dispatch()
    await done.wait()
    return measured


async def _arrival_gap(start: float, n: int, rate: float) -> None:
    delay = start + n / rate - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _router(
    database_url: str, kiosks: int, operators: int, rate: float, handle_s: float
) -> Measured:
    engine = make_engine(database_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    users: dict[int, StaffUser] = {}
    async with transaction(sessions) as db:
        for n in range(operators):
            user = StaffUser(
                username=f"bench-op-{uuid.uuid4().hex[:8]}",
                display_name=f"bench {n}",
                role=Role.OPERATOR.value,
                password_hash="!",  # noqa: S106 - no argon2 hash matches: cannot log in
                created_at=now,
                failed_logins=0,
            )
            db.add(user)
            await db.flush()
            await service.sign_in(db=db, user=user, now=now)
            await service.set_presence(db=db, user=user, status=Presence.AVAILABLE, now=now)
            users[user.id] = user
    router = CallRouter(
        sessions=sessions,
        publisher=CallPublisher(None),
        hub=RoutingHub(),
        settings=CallSettings(
            tick_s=0.5,
            presence_stale_s=3600,
            staffing_check_s=3600,
            support_queue_threshold=1_000_000,  # the support staff are not part of this
        ),
    )
    measured = Measured("database router")
    requested: dict[str, float] = {}
    done = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()

    async def operator_takes(ring: service.Ring) -> None:
        user = users[ring.operator_id]
        async with transaction(sessions) as db:
            await service.accept(db=db, user=user, call_id=ring.call_id, now=datetime.now(UTC))
        await asyncio.sleep(handle_s)
        async with transaction(sessions) as db:
            await service.hang_up(db=db, user=user, call_id=ring.call_id, now=datetime.now(UTC))
            await service.record_outcome(
                db=db,
                user=user,
                call_id=ring.call_id,
                procedure=Procedure.HEALTH_INSURANCE,
                outcome=Outcome.COMPLETED,
                reason=None,
                now=datetime.now(UTC),
            )
        router.kick()

    def on_ring(ring: service.Ring) -> None:
        now = time.perf_counter()
        measured.latencies.append(now - requested[ring.call_id])
        measured.last_ring = now
        task = asyncio.create_task(operator_takes(ring))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if len(measured.latencies) == kiosks:
            done.set()

    router.on_ring = on_ring
    running = asyncio.create_task(router.run())
    try:
        measured.first_request = time.perf_counter()
        for n in range(kiosks):
            await _arrival_gap(measured.first_request, n, rate)
            message = CallMessage(
                kiosk_id=f"bench-k{n:04d}",
                sent_at=datetime.now(UTC),
                seq=n,
                call_id=uuid.uuid4(),
                action="request",
                terms_version="2026-04",
                privacy_version="2026-04",
            )
            requested[str(message.call_id)] = time.perf_counter()
            await router.on_kiosk_message(message, datetime.now(UTC))
        await asyncio.wait_for(done.wait(), timeout=max(120.0, kiosks / rate * 4))
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await engine.dispose()
    return measured


async def run(
    *,
    kiosks: int,
    operators: int,
    rate: float,
    handle_s: float,
    database_url: str | None,
) -> RoutingResult:
    with TemporaryDirectory(prefix="madoguchi-bench-") as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'routing.db'}"
        routed = await _router(url, kiosks, operators, rate, handle_s)
    naive = await _naive(kiosks, operators, rate, handle_s)
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    return RoutingResult(kiosks, operators, rate, handle_s, database, routed, naive)
