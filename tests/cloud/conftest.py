"""Control-plane fixtures: an app on SQLite or a real PostgreSQL, and an HTTP client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud.app import create_app
from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.engine import transaction
from cloud.settings import BrokerSettings, CloudSettings, TimeSeriesSettings
from tests.servers import Broker, VictoriaMetrics

PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@dataclass
class Cloud:
    app: FastAPI
    client: httpx.AsyncClient
    make_user: Callable[..., Awaitable[str]]

    async def token(self, role: Role, username: str | None = None) -> str:
        """A logged-in user's bearer token."""
        name = await self.make_user(role, username)
        response = await self.client.post(
            "/api/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


async def _running_cloud(settings: CloudSettings) -> AsyncIterator[Cloud]:
    app = create_app(settings)
    counter = {"n": 0}

    async def make_user(role: Role, username: str | None = None) -> str:
        counter["n"] += 1
        name = username or f"{role.value}{counter['n']}"
        async with transaction(app.state.sessions) as db:
            await create_user(
                db=db,
                username=name,
                password=PASSWORD,
                role=role,
                display_name=f"{role.value} {counter['n']}",
            )
        return name

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Cloud(app=app, client=client, make_user=make_user)


@asynccontextmanager
async def serving(cloud: Cloud) -> AsyncIterator[str]:
    """The app behind a real HTTP server (uvicorn) on a free port: WebSockets and browsers."""
    import uvicorn

    from madoguchi.demo import EmbeddedServer
    from madoguchi.mosquitto import free_port

    port = free_port()
    server = EmbeddedServer(
        uvicorn.Config(cloud.app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def cloud(database_url: str) -> AsyncIterator[Cloud]:
    """The control plane without a broker, on SQLite and on PostgreSQL."""
    settings = CloudSettings(database_url=database_url, mqtt=BrokerSettings(enabled=False))
    async for running in _running_cloud(settings):
        yield running


@pytest.fixture
async def sqlite_cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    """The same on SQLite only, for tests whose subject is not the database."""
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        mqtt=BrokerSettings(enabled=False),
    )
    async for running in _running_cloud(settings):
        yield running


def cloud_broker_link(broker: Broker, client_id: str) -> BrokerSettings:
    """The control plane's link to the test broker, reconnecting fast."""
    cert, key = broker.cloud_cert
    return BrokerSettings(
        host=broker.host,
        port=broker.port,
        ca_file=broker.ca_file,
        cert_file=cert,
        key_file=key,
        client_id=client_id,
        # Sessions outlive a test: a group of its own keeps a finished test's session from
        # taking a share of the next test's messages.
        shared_group=f"g{uuid.uuid4().hex[:12]}",
        session_expiry_s=30,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )


@pytest.fixture
async def broker_cloud(
    broker: Broker, victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> AsyncIterator[Cloud]:
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        timeseries=TimeSeriesSettings(enabled=True, url=victoria_metrics.url, flush_interval_s=0.2),
        mqtt=cloud_broker_link(broker, f"cloud-{tmp_path.name}"),
    )
    async for running in _running_cloud(settings):
        await asyncio.wait_for(running.app.state.consumer.connected.wait(), 15)
        yield running


def pause_background_routing(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that step routing themselves at times of their own (fixed, so long past by
    the wall clock): the app's own router pass would take their operators for dead consoles."""

    async def no_pass(now: object = None) -> None:
        return None

    monkeypatch.setattr(cloud.app.state.router, "route_once", no_pass)


@pytest.fixture
def routing_stepped_by_test(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pauses the app's background routing for a test that uses the `cloud` fixture."""
    if "cloud" in request.fixturenames:
        pause_background_routing(request.getfixturevalue("cloud"), monkeypatch)
