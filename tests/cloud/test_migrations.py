"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from cloud.db.base import Base, import_all_models
from cloud.db.engine import make_engine
from cloud.db.migrate import upgrade


async def test_models_and_migrations_agree(database_url: str) -> None:
    import_all_models()
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # running again at the next start-up is a no-op

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
