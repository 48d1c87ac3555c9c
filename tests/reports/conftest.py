"""The control-plane fixtures (SQLite and PostgreSQL) for the report tests."""

from tests.cloud.conftest import (  # noqa: F401 - shared fixtures
    cloud,
    database_url,
    routing_stepped_by_test,
)
