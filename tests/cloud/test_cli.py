"""`madoguchi cloud create-user|login` and `madoguchi kiosks list` against a control plane
served by uvicorn on a loopback port: what staff type, and what they read when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from cloud.app import create_app
from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.engine import transaction
from cloud.fleet import service
from cloud.settings import BrokerSettings, CloudSettings
from madoguchi.cli import app as cli
from madoguchi.credentials import Credentials, save
from madoguchi.mosquitto import free_port
from tests.cloud.conftest import PASSWORD
from tests.cloud.test_registry import NOW, state


class _Server(uvicorn.Server):
    """uvicorn in the test's loop; pytest keeps its own signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    url: str
    database_url: str
    credentials: Path


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    for name in ("MADOGUCHI_URL", "MADOGUCHI_TOKEN", "MADOGUCHI_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "config" / "credentials.json"
    monkeypatch.setenv("MADOGUCHI_CREDENTIALS", str(credentials))
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    port = free_port()
    app = create_app(
        CloudSettings(database_url=database_url, http_port=port, mqtt=BrokerSettings(enabled=False))
    )
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(15):
        while not server.started:
            await asyncio.sleep(0.05)
    async with transaction(app.state.sessions) as db:
        await create_user(
            db=db, username="tech1", password=PASSWORD, role=Role.TECH, display_name="技術 一郎"
        )
        await service.apply_state(db=db, message=state("online", 1), received_at=NOW)
    try:
        yield Served(f"http://127.0.0.1:{port}", database_url, credentials)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    """The CLI in a worker thread (it blocks on HTTP), while the server runs in this loop."""

    def invoke() -> Result:
        return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=True)

    return await asyncio.to_thread(invoke)


def clean_failure(result: Result, code: int) -> None:
    """Failed the way a user should see: a sentence on stderr, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


async def test_login_saves_a_private_token_that_kiosks_list_uses(served: Served) -> None:
    result = await run(
        "cloud", "login", "--url", served.url, "--username", "tech1",
        env={"MADOGUCHI_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert stat.S_IMODE(served.credentials.stat().st_mode) == 0o600
    saved = json.loads(served.credentials.read_text())
    assert saved["url"] == served.url
    assert len(saved["token"]) >= 32

    listed = await run("kiosks", "list", "--json")
    assert listed.exit_code == 0, listed.output
    kiosks = json.loads(listed.stdout)
    assert [(k["kiosk_id"], k["status"], k["site_id"]) for k in kiosks] == [
        ("k1", "online", "city-hall")
    ]

    table = await run("kiosks", "list")
    assert table.exit_code == 0, table.output
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["KIOSK", "SITE", "STATE"]
    assert row.split()[:3] == ["k1", "city-hall", "online"]
    assert "1/1 ok" in row and "(simulated)" in row


async def test_wrong_password_is_refused_and_nothing_is_saved(served: Served) -> None:
    result = await run(
        "cloud", "login", "--url", served.url, "--username", "tech1",
        env={"MADOGUCHI_PASSWORD": "not the password"},
    )  # fmt: skip
    clean_failure(result, 1)
    assert "log-in refused" in result.stderr
    assert not served.credentials.exists()


async def test_a_rejected_token_asks_to_log_in_again(served: Served) -> None:
    save(Credentials(served.url, "forged-or-revoked-token"))
    result = await run("kiosks", "list")
    clean_failure(result, 1)
    assert "refused the token" in result.stderr
    assert "madoguchi cloud login" in result.stderr


async def test_an_unreachable_server_is_named(served: Served) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = await run("kiosks", "list", "--url", nowhere, env={"MADOGUCHI_TOKEN": "t"})
    clean_failure(result, 1)
    assert f"cannot reach the control plane at {nowhere}" in result.stderr


async def test_not_logged_in_says_how(served: Served) -> None:
    result = await run("kiosks", "list")
    clean_failure(result, 2)
    assert "not logged in" in result.stderr


async def test_a_saved_token_is_never_sent_to_another_server(served: Served) -> None:
    save(Credentials(served.url, "token-for-the-served-control-plane"))
    elsewhere = f"http://127.0.0.1:{free_port()}"
    result = await run("kiosks", "list", "--url", elsewhere)
    clean_failure(result, 2)
    assert f"no token for {elsewhere}" in result.stderr


async def test_create_user_takes_the_password_from_stdin_only(served: Served) -> None:
    env = {"MADOGUCHI_CLOUD_DATABASE_URL": served.database_url}
    base = ("cloud", "create-user", "--username", "city1", "--display-name", "市役所 花子")
    named = (*base, "--role", "city")

    on_command_line = await run(*named, "--password", PASSWORD, env=env)
    assert on_command_line.exit_code == 2  # no such option: it would land in shell history

    short = await run(*named, "--password-stdin", env=env, stdin="short\n")
    clean_failure(short, 2)
    assert "12" in short.stderr

    bad_role = await run(*base, "--role", "mayor", env=env)
    clean_failure(bad_role, 2)
    assert "unknown role 'mayor'" in bad_role.stderr

    created = await run(*named, "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert PASSWORD not in created.output

    login = await run(
        "cloud", "login", "--url", served.url, "--username", "city1",
        env={"MADOGUCHI_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert login.exit_code == 0, login.output

    again = await run(*named, "--password-stdin", env=env, stdin=PASSWORD + "\n")
    clean_failure(again, 2)
    assert "taken" in again.stderr


async def test_login_refuses_a_url_that_is_not_http(served: Served) -> None:
    result = await run(
        "cloud", "login", "--url", "127.0.0.1:8000", "--username", "tech1",
        env={"MADOGUCHI_PASSWORD": PASSWORD},
    )  # fmt: skip
    clean_failure(result, 2)
    assert "not a control plane URL" in result.stderr
