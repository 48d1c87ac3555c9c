"""Fixtures shared by every test: the real servers (DESIGN.md §5)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# pcscd is one per test session: libpcsclite reads its socket's address once per process, so
# the fixtures are registered here, once, not imported by each module (which would make one
# "session" pcscd per module).
from tests.pcsc import (  # noqa: F401 - fixtures
    pcscd_fixture,
    pcscd_session_fixture,
    virtual_card_fixture,
)
from tests.servers import (
    Broker,
    Coturn,
    MissingServerError,
    Postgres,
    VictoriaMetrics,
    start_broker,
    start_coturn,
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
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """coturn checking ephemeral credentials (use-auth-secret), over UDP and TLS."""
    try:
        server = start_coturn(tmp_path_factory.mktemp("coturn"))
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


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A command run in-process (CliRunner) configures logging for the whole process, as a
    real command does; put it back so later tests see the logs they expect."""
    import logging

    import structlog

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
