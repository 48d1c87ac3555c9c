"""Training scenarios: a simulated training kiosk (the real `KioskAgent`) that calls a new
operator with a scripted problem.

The scenarios are data (`SCENARIOS`): what the kiosk's card, face camera and document camera
show, and whether its network drops during the call. A scenario's kiosk must be registered as
a training kiosk (`PUT /api/kiosks/{kiosk_id}/training`, administrators): its calls then go
only to operators in 研修モード and never count in a report. `run_scenario` makes sure of that
before the kiosk calls: a kiosk that is not flagged does not call.

* `card_nearly_locked`: the user-authentication PIN has one try left (a virtual card on a
  private pcscd) — the console warns to refer the resident to the counter;
* `no_form`: the stand scanner shows a form without a code — 申請書を読み取る says "no code";
* `failed_photo`: the face camera shows the empty counter — 撮影する reports no face;
* `network_drop`: the kiosk's link to the broker is cut mid-call (a relay in between closes
  every connection) and its media ends — the console sees the call end with reason
  `kiosk_offline` (端末との通信が切れました); the link comes back after a while.

From a shell, against the demo (`madoguchi demo` in another terminal; the demo's CA, broker
port and the administrator's saved token):

    madoguchi training run --scenario no_form --broker-port 18883

The demo can wire one scenario in itself with `training_kiosk_settings` and `run_scenario`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import structlog

from edge.agent import KioskAgent
from edge.call.controller import Screen
from edge.settings import EdgeSettings

log = structlog.get_logger("training")

TRAINING_KIOSK = "training-01"
FULL_TRIES = 3


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title_ja: str
    expect_ja: str  # what the trainee should see and do
    user_auth_tries: int = FULL_TRIES  # the card's user-authentication PIN tries left
    face: Literal["portrait", "empty"] = "portrait"
    form: Literal["code", "no_code"] = "code"
    cut_link_after_s: float | None = None  # network_drop: cut this long into the call
    link_down_s: float = 20.0  # ... and restored this long after


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "card_nearly_locked",
            "暗証番号ロック寸前のカード",
            "カードリーダー: 利用者証明用暗証番号の残り1回 → 窓口案内",
            user_auth_tries=1,
        ),
        Scenario(
            "no_form",
            "申請書を持っていない住民",
            "申請書を読み取る → コードなし → 申請書なしとして記録",
            form="no_code",
        ),
        Scenario(
            "failed_photo",
            "顔写真が撮れない",
            "撮影する → 顔が写っていない → 撮り直しの案内",
            face="empty",
        ),
        Scenario(
            "network_drop",
            "通話中にネットワークが切れる",
            "通話が「端末との通信が切れました」で終わる → システム障害として記録",
            cut_link_after_s=5.0,
        ),
    )
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"no scenario '{name}' (known: {', '.join(SCENARIOS)})") from None


# --- the kiosk's peripherals -------------------------------------------------------------------


def _empty_counter() -> np.ndarray:
    """The face camera with nobody in front of it: no face to photograph."""
    from madoguchi.demo_peripherals import BACKGROUND_BGR, FRAME_H, FRAME_W

    frame = np.empty((FRAME_H, FRAME_W, 3), np.uint8)
    frame[:] = BACKGROUND_BGR
    return frame


def _form_without_code() -> np.ndarray:
    """A sheet on the stand scanner with no code on it (not the application form)."""
    from edge.forms.synthetic import Degradation, photograph, render_form

    sheet, box = render_form(None, code_mm=28.0)
    degradation = Degradation(
        tilt_deg=15.0, yaw_deg=5.0, roll_deg=4.0, gradient=0.3, shadow=0.0, frame=(1920, 1440)
    )
    return photograph(sheet, degradation, code_box=box)


def scenario_images(chosen: Scenario, directory: Path) -> tuple[Path, Path]:
    """The scenario's face-camera and stand-scanner pictures, written to `directory`."""
    from madoguchi.demo_peripherals import face_frame, form_image

    directory.mkdir(parents=True, exist_ok=True)
    face = directory / f"{chosen.name}-face.jpg"
    form = directory / f"{chosen.name}-form.jpg"
    pictures = (
        (face, face_frame() if chosen.face == "portrait" else _empty_counter()),
        (form, form_image() if chosen.form == "code" else _form_without_code()),
    )
    for path, image in pictures:
        if not path.exists():
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok:
                raise RuntimeError(f"could not encode {path.name}")
            path.write_bytes(encoded.tobytes())
    return face, form


def training_kiosk_settings(
    base: EdgeSettings,
    chosen: Scenario,
    directory: Path,
    *,
    card_reader: str | None = None,
    broker_port: int | None = None,
) -> EdgeSettings:
    """`base` (a kiosk's settings: id, certificates, broker) with the scenario's cameras and
    card reader (`card_reader`: a PC/SC reader name whose card `prepare_card` set up);
    `broker_port`: a `LinkCut` relay's port instead of the broker's (network_drop)."""
    face, form = scenario_images(chosen, directory)
    update: dict[str, object] = {
        "camera": f"image:{face.resolve()}",
        "document_camera": f"image:{form.resolve()}",
        "card_reader": f"pcsc:{card_reader}" if card_reader else None,
    }
    if broker_port is not None:
        update["broker_port"] = broker_port
    return base.model_copy(update=update)


def prepare_card(chosen: Scenario, card: object) -> None:
    """Set a virtual card (`edge.peripherals.virtual_card.VirtualJpkiCard`) for the scenario."""
    from edge.peripherals.virtual_card import VirtualJpkiCard

    assert isinstance(card, VirtualJpkiCard)
    card.set_tries(user_auth=chosen.user_auth_tries)


# --- the network drop --------------------------------------------------------------------------


class LinkCut:
    """A TCP relay between the kiosk and the broker that can cut the kiosk off: every
    connection is closed at once (no MQTT DISCONNECT: the broker publishes the kiosk's will)
    and new ones are refused until `restore()`. TLS passes through untouched."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.down = False
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        try:
            await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        finally:
            self._writers -= {writer, upstream_writer}

    def cut(self) -> None:
        self.down = True
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()  # no FIN handshake, no MQTT goodbye: the line is just gone

    def restore(self) -> None:
        self.down = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# --- running a scenario -------------------------------------------------------------------------

MarkTraining = Callable[[str], Awaitable[bool]]  # kiosk id -> whether it is a training kiosk


async def start_call(agent: KioskAgent) -> None:
    """The resident's touches: はじめる → 同意して進む → 通話する."""
    calls = agent.calls
    await calls.resident("start")
    await calls.resident("consent", accepted=True)
    await calls.resident("call")


async def run_scenario(
    agent: KioskAgent,
    chosen: Scenario,
    *,
    mark_training: MarkTraining,
    link: LinkCut | None = None,
    timeout_s: float = 60.0,
) -> None:
    """With `agent` running: make sure its kiosk is a training kiosk, then call, and play the
    scenario's network drop. Returns when the call is placed (or, with a drop, after it)."""
    async with asyncio.timeout(timeout_s):
        await agent.link.connected.wait()
        # The registry knows the kiosk from its birth; the flag must be set before any call.
        while True:
            if await mark_training(agent.settings.kiosk_id):
                break
            await asyncio.sleep(0.2)
    log.info("training_call", scenario=chosen.name, kiosk_id=agent.settings.kiosk_id)
    await start_call(agent)
    if chosen.cut_link_after_s is None:
        return
    if link is None:
        raise ValueError("the network_drop scenario needs the kiosk behind a LinkCut relay")
    with agent.calls.watch() as views:
        async with asyncio.timeout(600):  # the trainee answers and the media connects
            while agent.calls.view.screen != Screen.IN_CALL:
                await views.get()
    await asyncio.sleep(chosen.cut_link_after_s)
    log.info("training_link_cut", kiosk_id=agent.settings.kiosk_id)
    link.cut()
    await agent.calls.media_lost()
    await asyncio.sleep(chosen.link_down_s)
    link.restore()
    log.info("training_link_restored", kiosk_id=agent.settings.kiosk_id)


def api_marker(url: str, token: str) -> MarkTraining:
    """Flag the kiosk through the control plane's API with an administrator's token."""
    import httpx

    async def mark(kiosk_id: str) -> bool:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            response = await client.put(f"/api/kiosks/{kiosk_id}/training", json={"training": True})
        if response.status_code == 404:
            return False  # not registered yet: the birth is on its way
        response.raise_for_status()
        return bool(response.json()["training"])

    return mark


async def run_standalone(
    chosen: Scenario,
    *,
    state_dir: Path,
    broker_host: str,
    broker_port: int,
    kiosk_id: str,
    site_id: str,
    url: str,
    token: str,
    stop: asyncio.Event,
) -> None:
    """`madoguchi training run`: the scenario's kiosk against a running control plane (the
    demo's CA in `state_dir`), with its own private pcscd for the card, until `stop`."""
    import os

    from edge.peripherals.virtual_card import VirtualJpkiCard
    from madoguchi.demo import kiosk_settings
    from madoguchi.pcscd import PcscdNotFoundError, PcscdProcess
    from provisioning.ca import FleetCA

    ca = FleetCA.load_or_create(state_dir / "ca")
    directory = state_dir / "training"
    directory.mkdir(parents=True, exist_ok=True)
    pcscd: PcscdProcess | None = None
    card: VirtualJpkiCard | None = None
    reader: str | None = None
    try:
        import tempfile

        pcscd = PcscdProcess(
            Path(tempfile.mkdtemp(prefix="madoguchi-training-pcscd-")),
            log_path=directory / "pcscd.log",
        )
        pcscd.start()
        os.environ.update(pcscd.env())  # before this process's first PC/SC call
        card = VirtualJpkiCard(pcscd.card_ports[0])
        prepare_card(chosen, card)
        card.insert()
        reader = pcscd.reader_names[0]
    except (PcscdNotFoundError, OSError, RuntimeError) as exc:
        if chosen.user_auth_tries != FULL_TRIES:
            raise RuntimeError(f"this scenario needs the virtual card reader: {exc}") from exc
        log.warning("training_without_card_reader", reason=str(exc).splitlines()[0])
        pcscd = None
    link: LinkCut | None = None
    if chosen.cut_link_after_s is not None:
        link = LinkCut(broker_host, broker_port)
        await link.start()
    base = kiosk_settings(state_dir, ca, kiosk_id, link.port if link else broker_port)
    base = base.model_copy(update={"site_id": site_id, "broker_host": broker_host})
    if link is not None:
        base = base.model_copy(update={"broker_host": "localhost"})  # the relay, same name
    settings = training_kiosk_settings(base, chosen, directory, card_reader=reader)
    agent = KioskAgent(settings)
    running = asyncio.create_task(agent.run())
    try:
        await run_scenario(agent, chosen, mark_training=api_marker(url, token), link=link)
        if agent.resident_screen is not None:
            print(f"resident screen: {agent.resident_screen.url}", flush=True)
        await stop.wait()
    finally:
        agent.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 10)
        if link is not None:
            await link.close()
        if card is not None:
            card.remove()
        if pcscd is not None:
            pcscd.stop()
