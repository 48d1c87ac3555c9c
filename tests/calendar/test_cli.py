"""`madoguchi calendar days|close|closures` as city staff and technicians use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from madoguchi.cli import app

KEYS = {"date", "open", "opens", "closes", "last_reception", "reason"}


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """A runner whose control-plane database is a fresh SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    return CliRunner(env={"MADOGUCHI_CLOUD_DATABASE_URL": url})


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, ["calendar", *args])


def days_json(cli: CliRunner, first: str, last: str, *extra: str) -> list[dict[str, object]]:
    result = run(
        cli, "days", "--site", "city-hall", "--from", first, "--to", last, "--json", *extra
    )
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_days_prints_a_json_array_with_exactly_the_documented_keys() -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "madoguchi", "calendar", "days", "--site", "city-hall"),
            *("--from", "2026-11-21", "--to", "2026-11-23", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and [set(r) for r in rows] == [KEYS] * 3
    assert rows[0] == {
        "date": "2026-11-21",
        "open": True,
        "opens": "09:00",
        "closes": "16:00",
        "last_reception": "15:45",
        "reason": None,
    }
    assert rows[1] == {
        "date": "2026-11-22",
        "open": False,
        "opens": None,
        "closes": None,
        "last_reception": None,
        "reason": "weekend: 日曜日",
    }
    assert rows[2]["reason"] == "national_holiday: 勤労感謝の日"


def test_days_without_json_prints_a_readable_table(cli: CliRunner) -> None:
    result = run(cli, "days", "--site", "city-hall", "--from", "2026-11-23", "--to", "2026-11-25")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "2026-11-23  休み  national_holiday: 勤労感謝の日",
        "2026-11-24  08:30–17:15 (受付 17:00まで)",
        "2026-11-25  08:30–20:00 (受付 19:45まで)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nowhere", "--from", "2026-01-01", "--to", "2026-01-02"], "no schedule"),
        (["--site", "city-hall", "--from", "2026-02-01", "--to", "2026-01-01"], "after"),
        (["--site", "city-hall", "--from", "2026-13-01", "--to", "2027-01-01"], "YYYY-MM-DD"),
        (["--site", "city-hall", "--from", "2020-01-01", "--to", "2026-01-01"], "at most"),
    ],
)
def test_days_refuses_bad_input_clearly(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "calendar", "days", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_days_reads_a_popup_site_from_sites_dir(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "popup-mall.yaml").write_text(
        "site_id: popup-mall\nname: 出張申請\nweekly:\n"
        '  sat: {opens: "10:00", closes: "15:00", last_reception: "14:30"}\n',
        encoding="utf-8",
    )
    args = ["--site", "popup-mall", "--from", "2026-11-27", "--to", "2026-11-28", "--json"]
    result = run(cli, "days", *args, "--sites-dir", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert [r["open"] for r in json.loads(result.stdout)] == [False, True]
    (tmp_path / "popup-mall.yaml").write_text("site_id: popup-mall\n", encoding="utf-8")
    broken = run(cli, "days", *args, "--sites-dir", str(tmp_path))
    assert broken.exit_code == 2 and "weekly: Field required" in broken.stderr


def test_close_records_closures_that_days_and_closures_then_show(cli: CliRunner) -> None:
    recorded = run(
        cli, "close", "--site", "city-hall", "--date", "2026-11-26", "--reason", "台風接近"
    )
    assert recorded.exit_code == 0, recorded.stderr
    assert recorded.stdout.strip() == "recorded: city-hall 2026-11-26 終日 台風接近"
    partial = run(
        cli,
        *("close", "--site", "city-hall", "--date", "2026-11-25", "--from", "15:00"),
        *("--reason", "暴風警報", "--by", "city-a"),
    )
    assert partial.exit_code == 0, partial.stderr

    shown = days_json(cli, "2026-11-25", "2026-11-26")
    assert shown[0]["closes"] == "15:00" and shown[0]["last_reception"] == "14:45"
    assert shown[1] == {
        "date": "2026-11-26",
        "open": False,
        "opens": None,
        "closes": None,
        "last_reception": None,
        "reason": "closure: 台風接近",
    }
    assert days_json(cli, "2026-11-26", "2026-11-26", "--no-with-closures")[0]["open"] is True

    listed = run(cli, "closures", "--site", "city-hall", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [
        (c["date"], c["from"], c["until"], c["reason"], c["recorded_by"])
        for c in json.loads(listed.stdout)
    ] == [
        ("2026-11-25", "15:00", None, "暴風警報", "city-a"),
        ("2026-11-26", None, None, "台風接近", "cli"),
    ]
    table = run(cli, "closures", "--site", "city-hall", "--from", "2026-11-26").stdout
    assert table.startswith("2026-11-26  終日  台風接近  (cli, ") and "暴風警報" not in table
    assert len(table.splitlines()) == 1


def test_closures_of_a_site_with_none_recorded(cli: CliRunner) -> None:
    listed = run(cli, "closures", "--site", "city-hall")
    assert listed.exit_code == 0 and listed.stdout.strip() == "no closures recorded for city-hall"
    assert run(cli, "closures", "--site", "city-hall", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nowhere", "--date", "2026-11-26", "--reason", "x"], "no schedule"),
        (["--site", "city-hall", "--date", "2026-11-26", "--reason", " "], "needs a reason"),
        (["--site", "city-hall", "--date", "26/11/2026", "--reason", "x"], "YYYY-MM-DD"),
        (
            ["--site", "city-hall", "--date", "2026-11-26", "--from", "25:00", "--reason", "x"],
            "HH:MM",
        ),
        (
            [
                *("--site", "city-hall", "--date", "2026-11-26"),
                *("--from", "14:00", "--until", "12:00", "--reason", "x"),
            ],
            "must end after it starts",
        ),
        (["--site", "city-hall", "--date", "2026-11-23", "--reason", "x"], "not open on"),
    ],
)
def test_close_refuses_bad_input_clearly(cli: CliRunner, args: list[str], message: str) -> None:
    result = run(cli, "close", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)  # an exit, not an uncaught error
    assert run(cli, "closures", "--site", "city-hall", "--json").stdout.strip() == "[]"


def test_closures_refuses_an_unknown_site(cli: CliRunner) -> None:
    result = run(cli, "closures", "--site", "nowhere")
    assert result.exit_code == 2 and "no schedule for site 'nowhere'" in result.stderr
