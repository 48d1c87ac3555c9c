"""`madoguchi demo` end to end: broker, control plane and two simulated kiosks, then
`madoguchi kiosks list --json` against the running control plane, and the kiosks' demo
peripherals (face camera picture, application form, fake My Number Cards on a private pcscd)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edge.forms import read_application_id_file
from edge.photo import check_file
from madoguchi import demo_peripherals
from madoguchi.demo import peripheral_settings
from madoguchi.demo_peripherals import DEMO_APPLICATION_ID
from madoguchi.mosquitto import free_port
from madoguchi.pcscd import PcscdNotFoundError

# Reads each reader given on the command line until pcscd (which polls vpcd) sees a card.
_READ_CARDS = """
import asyncio, json, sys, time
from edge.peripherals.card_reader import CardReader

async def read(name):
    deadline = time.monotonic() + 10
    while True:
        state = await CardReader(name).read_state()
        if state.card != "none" or time.monotonic() > deadline:
            return state.model_dump(mode="json")
        await asyncio.sleep(0.2)

print(json.dumps([asyncio.run(read(name)) for name in sys.argv[1:]]))
"""


def _kiosks(env: dict[str, str]) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "kiosks", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _read_cards(socket_env: str, readers: list[str]) -> list[dict[str, object]]:
    """The card states through the demo's pcscd, read in a child process: libpcsclite reads
    PCSCLITE_CSOCK_NAME once per process, and this one may already use the tests' pcscd."""
    key, _, value = socket_env.partition("=")
    result = subprocess.run(
        [sys.executable, "-c", _READ_CARDS, *readers],
        env={**os.environ, key: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    states: list[dict[str, object]] = json.loads(result.stdout)
    return states


def _check_demo_peripherals(state_dir: Path, banner: str) -> Path:
    """The pictures decode as the console will read them, and each kiosk's reader holds its
    fake card; returns the private pcscd's directory (removed when the demo stops)."""
    assert "撮影する" in banner and "申請書を読み取る" in banner and DEMO_APPLICATION_ID in banner
    pictures = state_dir / "peripherals"
    assert read_application_id_file(pictures / "form-scanner.jpg") == DEMO_APPLICATION_ID
    assert check_file(pictures / "face-camera.jpg").faces == 1
    # No pcscd means "card readers   none (why)": that fails here, loudly.
    cards = re.search(
        r"card readers   city-hall-01: (.+?), city-hall-02: (.+?)\n.*?"
        r"(PCSCLITE_CSOCK_NAME=\S+?)\)",
        banner,
        re.DOTALL,
    )
    assert cards is not None, banner
    first, second = _read_cards(cards.group(3), [cards.group(1), cards.group(2)])
    assert (first["card"], first["user_auth_pin_tries"], first["input_support_pin_tries"]) == (
        "mynumber",
        3,
        3,
    )
    assert (second["card"], second["user_auth_pin_tries"], second["input_support_pin_tries"]) == (
        "mynumber",
        1,
        3,
    )
    return Path(cards.group(3).partition("=")[2]).parents[2]


def test_demo_runs_two_kiosks_listed_online_by_the_cli(tmp_path: Path) -> None:
    http_port = free_port()
    env = {
        **os.environ,
        "MADOGUCHI_CREDENTIALS": str(tmp_path / "credentials.json"),
        "PYTHONUNBUFFERED": "1",
    }
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "madoguchi",
            "demo",
            "--state-dir",
            str(tmp_path / "demo"),
            "--http-port",
            str(http_port),
            "--broker-port",
            str(free_port()),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = ""
        deadline = time.monotonic() + 90
        assert demo.stdout is not None
        while "Ctrl-C" not in banner and time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line and demo.poll() is not None:
                raise AssertionError(f"demo exited: {demo.stderr.read() if demo.stderr else ''}")
            banner += line
        assert f"http://127.0.0.1:{http_port}/" in banner
        assert "demo-admin" in banner
        assert "demo-operator" in banner
        pcscd_dir = _check_demo_peripherals(tmp_path / "demo", banner)
        # Each kiosk serves its resident screen on loopback, in Japanese by default.
        resident_urls = re.findall(r"city-hall-0[12]: (http://127\.0\.0\.1:\d+/)", banner)
        assert len(resident_urls) == 2
        for url in resident_urls:
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and 'lang="ja"' in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        kiosks: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            kiosks = _kiosks(env)
            if sorted(k["kiosk_id"] for k in kiosks if k["status"] == "online") == [
                "city-hall-01",
                "city-hall-02",
            ]:
                break
            time.sleep(0.5)
        assert {k["kiosk_id"]: k["status"] for k in kiosks} == {
            "city-hall-01": "online",
            "city-hall-02": "online",
        }
        assert all(k["site_id"] == "city-hall" for k in kiosks)
        # The city's login sees the report of the simulated past month.
        password = re.search(r"demo-operator / (\S+)", banner)
        assert password is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=60) as web:
            login = web.post(
                "/login", data={"username": "demo-city", "password": password.group(1)}
            )
            assert login.status_code == 303, (
                f"log-in refused: {login.status_code} {login.text[:400]}"
            )
            page = web.get("/reports")
            assert page.status_code == 200 and "請求内訳" in page.text
            assert "支援員" in page.text and "合計" in page.text
            opening = re.search(r"開設日数 (\d+) 日、オンライン窓口 (\d+) 人", page.text)
            assert opening is not None and int(opening.group(1)) > 15 and int(opening.group(2)) > 0
            month = re.search(r'name="month" type="month" value="([0-9-]+)"', page.text)
            assert month is not None
            report = web.get(
                "/api/reports/monthly", params={"site": "city-hall", "month": month.group(1)}
            )
            assert report.status_code == 200 and report.content[:2] == b"PK"  # a .xlsx (zip)
            # How the service is run: the approved manual, the approved month's invoice,
            # the roster's coverage with its one deliberate gap.
            manual = web.get("/api/manuals/current")
            assert manual.status_code == 200 and manual.json()["number"] == 1  # approved
            invoice = web.get(
                "/api/reports/invoice", params={"site": "city-hall", "month": month.group(1)}
            )
            assert invoice.status_code == 200 and invoice.content[:4] == b"%PDF"
            coverage = web.get("/api/shifts/coverage", params={"site": "city-hall"})
            assert coverage.status_code == 200 and coverage.json()["gaps"], coverage.text[:300]
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert demo.returncode == 0
    assert not pcscd_dir.exists()  # pcscd stopped and its private directory removed
    # The state directory keeps the login private.
    login = tmp_path / "demo" / "demo-login.json"
    assert oct(login.stat().st_mode & 0o777) == "0o600"


def test_demo_peripherals_without_pcscd_still_give_the_pictures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise PcscdNotFoundError("pcscd is not installed")

    monkeypatch.setattr(demo_peripherals, "PcscdProcess", missing)
    peripherals = demo_peripherals.start(tmp_path)
    try:
        assert peripherals.reader_names == () and peripherals.env() == {}
        assert peripherals.card_problem == "pcscd is not installed"
        settings = peripheral_settings(peripherals, 1)
        assert settings["card_reader"] is None  # the kiosk runs without card tools
        assert settings["camera"] == f"image:{peripherals.face_photo.resolve()}"
        assert read_application_id_file(peripherals.form_photo) == DEMO_APPLICATION_ID
    finally:
        peripherals.stop()
