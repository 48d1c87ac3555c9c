"""Check the control plane's environment file; bring its database to the current schema.

Run by the control_plane role with the control plane's own virtualenv:

    python control_plane_settings.py check ENV_FILE    # template `validate`: a file whose
                                                       # settings do not load is not installed
    python control_plane_settings.py migrate ENV_FILE  # before the service is (re)started

`migrate` prints `migrated FROM -> TO` when it changed the schema, `at REVISION` otherwise.
Kept beside the role (not a `madoguchi` command) because it reads a settings file rather
than the process environment, which only deployment needs.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Connection

from cloud.settings import CloudSettings


def load(env_file: Path) -> CloudSettings:
    return CloudSettings(_env_file=env_file)


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def migrate(url: str) -> tuple[str | None, str | None]:
    from cloud.db.engine import make_engine
    from cloud.db.migrate import upgrade

    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            before = await connection.run_sync(_revision)
        await upgrade(engine)
        async with engine.connect() as connection:
            after = await connection.run_sync(_revision)
    finally:
        await engine.dispose()
    return before, after


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("check", "migrate"):
        print("usage: control_plane_settings.py check|migrate ENV_FILE", file=sys.stderr)
        return 2
    try:
        settings = load(Path(argv[2]))
    except ValidationError as exc:
        for error in exc.errors(include_input=False):  # never echo a value: secrets
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            print(f"{where}: {error['msg']}", file=sys.stderr)
        return 1
    if argv[1] == "migrate":
        before, after = asyncio.run(migrate(settings.database_url))
        print(f"migrated {before} -> {after}" if before != after else f"at {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
