"""`madoguchi demo` end to end: broker, control plane and two simulated kiosks, then
`madoguchi kiosks list --json` against the running control plane."""

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

from madoguchi.mosquitto import free_port


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
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}") as web:
            web.post("/login", data={"username": "demo-city", "password": password.group(1)})
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
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert demo.returncode == 0
    # The state directory keeps the login private.
    login = tmp_path / "demo" / "demo-login.json"
    assert oct(login.stat().st_mode & 0o777) == "0o600"
