"""Running one piece of work against the control plane's database from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the database to the current schema, run `work` in one transaction, close."""
    from cloud.db.engine import make_engine, make_sessionmaker, transaction
    from cloud.db.migrate import upgrade

    async def run() -> T:
        engine = make_engine(url)
        try:
            await upgrade(engine)
            async with transaction(make_sessionmaker(engine)) as db:
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(run())
