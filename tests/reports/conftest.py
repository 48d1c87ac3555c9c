"""The control-plane fixtures (SQLite and PostgreSQL) for the report tests."""

from tests.cloud.conftest import cloud, database_url  # noqa: F401 - shared fixtures
