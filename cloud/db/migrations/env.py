"""Alembic environment: always handed a connection by `cloud.db.migrate`."""

from __future__ import annotations

from alembic import context

from cloud.db.base import Base, import_all_models

import_all_models()
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cloud.db.migrate.upgrade (it supplies the engine)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
