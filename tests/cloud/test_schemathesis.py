"""schemathesis against the control plane's OpenAPI document, on a real uvicorn server.

schemathesis lives in its own environment (`.venv-schemathesis`, made by `make setup`):
grafana-client's niquests installs urllib3-future under the `urllib3` name in `.venv`, and
schemathesis fails at run time beside it. The server runs in this test's event loop; the
schemathesis CLI runs as a subprocess against it:

- with an admin token, every operation (examples, coverage, fuzzing and stateful phases):
  no 5xx;
- without a token: no 5xx, and every operation not public on purpose (`cloud.roles.PUBLIC`)
  answers 401 to every request schemathesis makes, read from the run's HAR file;
- with a token of each other role, every phase on the operations the role may call (no 5xx,
  and never the role check's 403) and the fuzzing phase on the others: every request
  answered 403 by the role check (the endpoint × role table with fuzzed inputs; the table
  itself is walked exhaustively in `test_roles.py`);
- log-out and the admin's second-factor reset end the session that calls them (the
  admin's own, when schemathesis picks its id): they get a run and a token of their own.

The figures (operations, requests, failures per run) are printed, and kept in
docs/security.md.

Only `not_a_server_error` is checked by schemathesis itself: the document declares neither
the 401/403/404/409 answers nor the handlers' own 422 texts (a string, not pydantic's list),
so the conformance checks report the document's silences rather than faults.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from starlette.routing import Match

from cloud.auth.models import Role
from cloud.roles import PUBLIC, _flat, access_table
from tests.cloud.conftest import Cloud, serving

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
SEED = 20240901
# Each of these ends the session it is called with: a run of their own, last.
SESSION_ENDING = ("/api/auth/logout", "/api/users/{user_id}/totp")
RUN_TIMEOUT_S = 300
ROLE_REFUSAL = "this needs one of the roles"  # cloud.deps.require_roles


@dataclass
class Run:
    name: str
    report: dict[str, Any]
    entries: list[dict[str, Any]]
    output: str
    problems: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        tested: int = self.report["operations"]["tested"]
        return tested

    @property
    def failures(self) -> int:
        found: int = self.report["test_cases"]["with_failures"]
        errored: int = self.report["test_cases"]["errored"] + len(self.report["errors"])
        return found + errored + len(self.problems)

    def summary(self) -> str:
        return (
            f"{self.name:>10}: {self.operations} operations, {len(self.entries)} requests, "
            f"{self.failures} failures"
        )


def _require_schemathesis() -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail(
            f"{SCHEMATHESIS} is missing: run `make setup`, or create it with\n"
            f"  python3 -m venv .venv-schemathesis && "
            f".venv-schemathesis/bin/python -m pip install 'schemathesis==4.32.*'",
            pytrace=False,
        )


async def _schemathesis(
    address: str,
    name: str,
    token: str | None,
    args: list[str],
    work: Path,
    phases: str = "examples,coverage,fuzzing,stateful",
) -> Run:
    reports = work / name
    command = [
        str(SCHEMATHESIS),
        "run",
        f"http://{address}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        phases,
        "--max-examples",
        "4",
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--report",
        "json,har",
        "--report-json-path",
        str(reports / "report.json"),
        "--report-har-path",
        str(reports / "requests.har"),
        "--no-color",
        *(["--header", f"Authorization: Bearer {token}"] if token else []),
        *args,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=work,  # anything schemathesis leaves behind stays in the test's directory
        env={**os.environ, "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"schemathesis ({name}) took more than {RUN_TIMEOUT_S} s")
    output = out.decode(errors="replace")
    assert (reports / "report.json").exists(), f"schemathesis ({name}) wrote no report:\n{output}"
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    har = json.loads((reports / "requests.har").read_text(encoding="utf-8"))
    return Run(name, report, har["log"]["entries"], output)


def _route_of(cloud: Cloud, method: str, url: str) -> tuple[str, str] | None:
    """The (method, path template) the app routes a request to, as Starlette would."""
    scope = {"type": "http", "method": method, "path": unquote(urlsplit(url).path)}
    for route in _flat(list(cloud.app.routes)):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return method, route.path
    return None


def _detail(response: dict[str, Any]) -> Any:
    try:
        return json.loads(response["content"].get("text", ""))["detail"]
    except (ValueError, KeyError, TypeError):
        return None


def _body_refused(status: int, response: dict[str, Any]) -> bool:
    """FastAPI decodes a request's body before it runs the route's dependencies: one that
    is not JSON is answered 422 (`json_invalid`), or 400 when it is not even text, before
    any role is checked, with nothing about the operation or its data in the answer."""
    detail = _detail(response)
    if status == 400:
        return bool(detail == "There was an error parsing the body")
    try:
        return status == 422 and all(error["type"] == "json_invalid" for error in detail)
    except (KeyError, TypeError):
        return False


def _check_access(cloud: Cloud, run: Run, role: str | None) -> None:
    """Unauthenticated requests to non-public operations get 401; a role's requests to
    operations outside its roles get 403. Requests the router matches to no route (a path
    parameter that is not one, e.g. with a slash in it) must be plain 404s."""
    allowed = {(a.method, a.path): a.roles for a in access_table(cloud.app)}
    for entry in run.entries:
        request, response = entry["request"], entry["response"]
        method, status = request["method"], response["status"]
        if _body_refused(status, response):
            continue
        route = _route_of(cloud, method, request["url"])
        if route is None:
            if status not in (404, 405):
                run.problems.append(f"{method} {request['url']}: {status} outside every route")
            continue
        if route in PUBLIC:
            continue
        roles = allowed[route]
        assert roles is not None, f"{route} is in the OpenAPI document without a role check"
        detail = _detail(response)
        who = "no token" if role is None else role
        if role is None:
            if status != 401:
                run.problems.append(f"{who} {method} {request['url']}: {status}, not 401")
        elif role not in roles:
            if status != 403 or not str(detail).startswith(ROLE_REFUSAL):
                run.problems.append(f"{who} {method} {request['url']}: {status} {detail}")
        elif status == 401 or (status == 403 and str(detail).startswith(ROLE_REFUSAL)):
            # A handler may refuse a role its data (support staff record their own days
            # only), but never the role check of a route the table gives it.
            run.problems.append(f"{who} {method} {request['url']}: {status} on its own route")


def _operations(cloud: Cloud) -> dict[tuple[str, str], str]:
    """The document's operations, (method, path) → operationId."""
    document = cloud.app.openapi()
    return {
        (method.upper(), path): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def _ids(flag: str, ids: list[str]) -> list[str]:
    return [arg for operation_id in sorted(ids) for arg in (flag, operation_id)]


# Seven schemathesis runs over ~90 operations: about two minutes here, more on a busy machine.
@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_server_error_and_no_unguarded_access(
    sqlite_cloud: Cloud, tmp_path: Path
) -> None:
    _require_schemathesis()
    operations = _operations(sqlite_cloud)
    roles = {(a.method, a.path): a.roles for a in access_table(sqlite_cloud.app)}
    ending = [operations[key] for key in operations if key[1] in SESSION_ENDING]
    tokens = {role: await sqlite_cloud.token(role) for role in Role}
    ending_token = await sqlite_cloud.token(Role.ADMIN)
    runs: list[Run] = []
    async with serving(sqlite_cloud) as address:
        # The admin reaches nearly everything: every operation, every phase.
        run = await _schemathesis(
            address, "admin", tokens[Role.ADMIN], _ids("--exclude-operation-id", ending), tmp_path
        )
        _check_access(sqlite_cloud, run, Role.ADMIN.value)
        runs.append(run)
        # Each other role: every phase on what it may call; its refusals (403 before any
        # handler runs) fuzzed only, the coverage phase's boundary values being wasted there.
        for role in (Role.OPERATOR, Role.SUPPORT, Role.TECH, Role.CITY):
            mine = [
                operation_id
                for key, operation_id in operations.items()
                if key not in PUBLIC
                and role.value in (roles[key] or ())
                and operation_id not in ending
            ]
            others = [
                operation_id
                for key, operation_id in operations.items()
                if key not in PUBLIC and role.value not in (roles[key] or ())
            ]
            for name, selection, phases in (
                (role.value, mine, "examples,coverage,fuzzing,stateful"),
                (f"{role.value}-403", others, "fuzzing"),
            ):
                run = await _schemathesis(
                    address,
                    name,
                    tokens[role],
                    _ids("--include-operation-id", selection),
                    tmp_path,
                    phases,
                )
                _check_access(sqlite_cloud, run, role.value)
                runs.append(run)
        run = await _schemathesis(address, "no token", None, [], tmp_path)
        _check_access(sqlite_cloud, run, None)
        runs.append(run)
        runs.append(
            await _schemathesis(
                address, "ending", ending_token, _ids("--include-operation-id", ending), tmp_path
            )
        )

    print("\nschemathesis " + runs[0].report["schemathesis_version"], file=sys.stderr)
    for run in runs:
        print(run.summary(), file=sys.stderr)
    total = sum(len(run.entries) for run in runs)
    print(f"{'all':>10}: {total} requests", file=sys.stderr)

    for run in runs:
        assert run.failures == 0, (
            f"schemathesis ({run.name}): {run.report['failures']} {run.report['errors']}\n"
            + "\n".join(run.problems[:20])
            + "\n"
            + run.output[-6000:]
        )
    # Every operation was reached: the admin run and the unauthenticated one cover the
    # whole document (bar the session-ending operations, run on their own), and each
    # role's two runs cover it too (bar those and the public ones).
    document = len(operations)
    assert runs[0].operations == document - len(ending)
    public = sum(key in PUBLIC for key in operations)
    for mine, others in zip(runs[1:9:2], runs[2:9:2], strict=True):
        assert mine.operations + others.operations == document - public - 1, mine.name
    assert runs[-2].operations == document
    assert runs[-1].operations == len(ending) == len(SESSION_ENDING)
    assert all(len(run.entries) >= 2 * run.operations for run in runs)
    assert all(not run.report["warnings"]["unmatched_filter"] for run in runs)
