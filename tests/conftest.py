"""Fixtures shared by every test: the real servers (DESIGN.md §5)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    Broker,
    MissingServerError,
    Postgres,
    VictoriaMetrics,
    start_broker,
    start_postgres,
    start_victoria_metrics,
)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Mosquitto with TLS, required client certificates and the generated ACL."""
    try:
        server = start_broker(tmp_path_factory.mktemp("broker"))
    except MissingServerError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    try:
        server = start_victoria_metrics(tmp_path_factory.mktemp("victoria-metrics"))
    except MissingServerError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    try:
        server = start_postgres()
    except MissingServerError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres: Postgres) -> str:
    return postgres.url()


@pytest.fixture
def fresh_postgres_url(postgres: Postgres) -> str:
    """A new, empty database for one test."""
    return postgres.url(postgres.create_database())


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
