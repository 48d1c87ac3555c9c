"""`madoguchi bench call`: the call's set-up time, glass-to-glass latency and kiosk CPU.

Real parts: Mosquitto, the control plane (uvicorn), the kiosk agent as its own process
(`madoguchi edge run`, test-pattern camera and screen, tone), Chromium with fake media
devices as the operator's console (Playwright).

- accept → first frame: from the operator's click on 応答 to the first camera frame the
  console's browser presented (`requestVideoFrameCallback`), both on the browser's clock;
- glass-to-glass: each camera frame carries its capture time in a machine-readable bar; the
  console reads it back from the decoded video (`requestVideoFrameCallback`) — same clock;
- kiosk CPU during the call against aiortc's plain loopback (bench.call_loopback) sending
  the same sources, measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
import uvicorn
from playwright.async_api import Page, async_playwright

from bench.servers import cpu_percent, start_broker
from cloud.app import create_app
from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.engine import transaction
from cloud.settings import AlertSettings, CloudSettings
from edge.settings import EdgeSettings
from madoguchi.demo import EmbeddedServer
from madoguchi.mosquitto import free_port

OPERATOR_PASSWORD = "bench-operator-password"  # noqa: S105 - a throwaway account in a temp DB
BROWSER_FLAGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class CallResult:
    calls: int
    setup_ms: list[float]
    glass_ms: list[float]
    kiosk_cpu: float
    loopback_cpu: float
    marks: list[dict[str, float]]

    def report(self) -> str:
        setup = sorted(self.setup_ms)
        glass = sorted(self.glass_ms)
        ratio = self.kiosk_cpu / self.loopback_cpu if self.loopback_cpu else 0.0
        return (
            f"call: {self.calls} calls, loopback (no network delay)\n"
            f"  accept → first camera frame    p50 {_pct(setup, 0.5):6.0f} ms  "
            f"max {setup[-1]:6.0f} ms\n"
            f"  glass-to-glass (camera track)  p50 {_pct(glass, 0.5):6.0f} ms  "
            f"p99 {_pct(glass, 0.99):6.0f} ms  ({len(glass)} frames)\n"
            f"  kiosk agent CPU during a call  {self.kiosk_cpu:5.1f} % of one core; "
            f"aiortc plain loopback {self.loopback_cpu:5.1f} % → ratio {ratio:.2f}x\n"
            f"  set-up marks after accept (ms, console clock): {self.marks[-1]}"
        )


async def _first_frame_timeline(console: Page) -> dict[str, float]:
    """The console's set-up marks once the first camera frame was shown (polled: the page's
    CSP forbids the string eval behind Playwright's wait_for_function)."""
    async with asyncio.timeout(30):
        while True:
            timeline: dict[str, float] = await console.evaluate("window.madoguchi.timeline")
            if "firstFrame" in timeline:
                return timeline
            await asyncio.sleep(0.05)


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _agent_environment(settings: EdgeSettings) -> dict[str, str]:
    values = settings.model_dump(mode="json")
    return {
        f"MADOGUCHI_EDGE_{name.upper()}": json.dumps(value)
        if isinstance(value, list)
        else str(value)
        for name, value in values.items()
    }


async def run(*, calls: int = 3, frames: int = 150, cpu_seconds: float = 10.0) -> CallResult:
    work = Path(tempfile.mkdtemp(prefix="madoguchi-bench-call-"))
    bench_broker = start_broker(work)
    ca, port, broker = bench_broker.ca, bench_broker.port, bench_broker.process
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{work / 'cloud.db'}",
        mqtt=bench_broker.cloud_settings(work),
        alerts=AlertSettings(enabled=False),
    )
    kiosk = ca.issue_kiosk("bench-call-k1", work / "kiosk")
    resident_port = free_port()
    edge = EdgeSettings(
        kiosk_id="bench-call-k1",
        site_id="city-hall",
        broker_host="localhost",
        broker_port=port,
        ca_file=ca.cert_path,
        cert_file=kiosk.cert_path,
        key_file=kiosk.key_path,
        state_dir=work / "kiosk-state",
        clock_sync_wait_s=0,
        resident_port=resident_port,
        camera="test-pattern",
        screen_capture="test-pattern",
        microphone="tone",
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    agent = subprocess.Popen(  # noqa: ASYNC220 - one child for the whole run
        [sys.executable, "-m", "madoguchi", "edge", "run", "--log-level", "WARNING"],
        env={**env, **_agent_environment(edge)},
    )
    app = create_app(settings)
    http_port = free_port()
    server = EmbeddedServer(
        uvicorn.Config(app, host="127.0.0.1", port=http_port, log_config=None, lifespan="off")
    )
    setup_ms: list[float] = []
    marks: list[dict[str, float]] = []
    glass_ms: list[float] = []
    kiosk_cpu = 0.0
    try:
        async with app.router.lifespan_context(app):
            serving = asyncio.create_task(server.serve())
            async with transaction(app.state.sessions) as db:
                await create_user(
                    db=db,
                    username="bench-operator",
                    password=OPERATOR_PASSWORD,
                    role=Role.OPERATOR,
                    display_name="ベンチ オペレーター",
                )
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=shutil.which("chromium"), headless=True, args=BROWSER_FLAGS
                )
                context = await browser.new_context(permissions=["camera", "microphone"])
                console = await context.new_page()
                resident = await context.new_page()
                base = f"http://127.0.0.1:{http_port}"
                await console.goto(f"{base}/login")
                await console.get_by_label("ユーザー名").fill("bench-operator")
                await console.get_by_label("パスワード").fill(OPERATOR_PASSWORD)
                await console.get_by_role("button", name="ログイン").click()
                await console.goto(f"{base}/operator")
                await console.get_by_role("button", name="受付開始").click()
                for _attempt in range(60):  # the agent connects to the broker
                    try:
                        await resident.goto(f"http://127.0.0.1:{resident_port}/")
                        break
                    except Exception:
                        await asyncio.sleep(0.5)
                for n in range(calls):
                    await resident.get_by_role("button", name="はじめる").click()
                    await resident.get_by_role("button", name="同意して進む").click()
                    await resident.get_by_role("button", name="通話する").click()
                    answer = console.get_by_role("button", name="応答")
                    await answer.wait_for(timeout=30_000)
                    await answer.click()
                    # From the click to the first camera frame shown, on the console's clock.
                    timeline = await _first_frame_timeline(console)
                    marks.append({k: round(v - timeline["accepted"]) for k, v in timeline.items()})
                    setup_ms.append(timeline["firstFrame"] - timeline["accepted"])
                    await asyncio.sleep(1)
                    glass_ms += await console.evaluate(f"window.madoguchi.glassToGlass({frames})")
                    if n == calls - 1:
                        kiosk_cpu = await cpu_percent(psutil.Process(agent.pid), cpu_seconds)
                    await console.get_by_role("button", name="通話終了").click()
                    await console.get_by_role("button", name="記録する").click()
                    await resident.get_by_role("button", name="最初の画面へ").click()
                    await console.locator("#presence[data-status=available]").wait_for()
                await browser.close()
            server.should_exit = True
            await serving
    finally:
        agent.terminate()
        agent.wait(15)
        broker.stop()
    loopback = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.call_loopback",
        str(cpu_seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await loopback.communicate()
    loopback_cpu = json.loads(out.decode().strip().splitlines()[-1])["cpu_percent"]
    return CallResult(calls, setup_ms, glass_ms, kiosk_cpu, loopback_cpu, marks)
