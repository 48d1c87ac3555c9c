"""The demo's peripherals: what the two simulated kiosks show the operator console.

* a face camera: a sample portrait (skimage's astronaut on a light background, as in
  `bench/photo.py`) in a 1280x720 frame, shown as a camera (`image:PATH`);
* a stand scanner: a synthetic application form with an obviously fake application ID,
  photographed at a slant (`edge/forms/synthetic.py`), also shown as a camera;
* card readers: a private pcscd with vsmartcard's vpcd (`madoguchi.pcscd`) and a virtual
  (fake) My Number Card on each kiosk's reader; kiosk 2's user-authentication PIN has one try
  left, so the console shows the "refer to the counter" warning.

Without pcscd, vpcd or unshare the demo still runs, without card readers (a warning says why).
The images are written to the state directory; the pcscd directory is a short temporary path
because its socket path must fit a Unix socket name (108 bytes).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import structlog

from edge.forms.synthetic import Degradation, photograph, render_form
from edge.peripherals.virtual_card import VirtualJpkiCard
from madoguchi.pcscd import PcscdNotFoundError, PcscdProcess

log = structlog.get_logger("demo")

# Plainly not a real one: the digits 1…9, 0 in order. 23 digits like a real 申請書ID.
DEMO_APPLICATION_ID = "12345678901234567890123"
# Kiosk 2's card: one try of the user-authentication PIN left (the referral warning).
LOW_USER_AUTH_TRIES = 1
FRAME_W, FRAME_H = 1280, 720
BACKGROUND_BGR = (236, 238, 240)


@dataclass
class DemoPeripherals:
    """Files and processes behind the demo kiosks' peripherals; `stop()` ends them."""

    face_photo: Path
    form_photo: Path
    pcscd: PcscdProcess | None = None
    cards: list[VirtualJpkiCard] = field(default_factory=list)
    card_problem: str | None = None  # why there are no card readers

    @property
    def reader_names(self) -> tuple[str, ...]:
        """One reader per kiosk (in kiosk order); empty without pcscd."""
        return self.pcscd.reader_names if self.pcscd is not None else ()

    def env(self) -> dict[str, str]:
        """What a PC/SC client needs to see these readers (empty without pcscd)."""
        return self.pcscd.env() if self.pcscd is not None else {}

    def stop(self) -> None:
        for card in self.cards:
            card.remove()
        self.cards.clear()
        if self.pcscd is not None:
            self.pcscd.stop()
            shutil.rmtree(self.pcscd.directory, ignore_errors=True)


def face_frame() -> np.ndarray:
    """What the kiosk's face camera would see: a portrait in a 1280x720 frame."""
    try:
        from bench.photo import good_astronaut, kiosk_frame

        return kiosk_frame(good_astronaut())  # compliant once cropped
    except ImportError:  # scikit-image is a dev dependency
        import matplotlib.cbook

        from edge.images import load_image

        log.warning("demo_face_photo_fallback", reason="scikit-image is not installed")
        sample = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        photo = load_image(Path(str(sample)))
    frame = np.empty((FRAME_H, FRAME_W, 3), np.uint8)
    frame[:] = BACKGROUND_BGR
    # At 80 % of the height, at the bottom: room above the crown for the 35:45 crop.
    scale = 0.8 * FRAME_H / photo.shape[0]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    height, width = small.shape[:2]
    left = (FRAME_W - width) // 2
    frame[FRAME_H - height :, left : left + width] = small
    return frame


def form_image(application_id: str = DEMO_APPLICATION_ID) -> np.ndarray:
    """A synthetic form whose QR code holds `application_id`, photographed at a slant."""
    import zxingcpp

    barcode = zxingcpp.create_barcode(application_id, zxingcpp.BarcodeFormat.QRCode)
    # One pixel per module, no quiet zone (render_form adds it): dark modules are 0.
    modules = np.asarray(zxingcpp.write_barcode_to_image(barcode, add_quiet_zones=False)) == 0
    sheet, box = render_form(modules, code_mm=28.0)
    # A moderate case (the reader also copes with much worse): what a stand scanner sees.
    degradation = Degradation(
        tilt_deg=15.0, yaw_deg=5.0, roll_deg=4.0, gradient=0.3, shadow=0.0, frame=(1920, 1440)
    )
    return photograph(sheet, degradation, code_box=box)


def write_images(directory: Path) -> tuple[Path, Path]:
    """The face camera's and the stand scanner's pictures, as JPEG files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    face, form = directory / "face-camera.jpg", directory / "form-scanner.jpg"
    for path, image in ((face, face_frame()), (form, form_image())):
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError(f"could not encode {path.name}")
        path.write_bytes(encoded.tobytes())
    return face, form


def start_card_readers(log_path: Path) -> tuple[PcscdProcess, list[VirtualJpkiCard]]:
    """A private pcscd with a fake My Number Card on each of its two readers."""
    directory = Path(tempfile.mkdtemp(prefix="madoguchi-demo-pcscd-"))
    try:
        pcscd = PcscdProcess(directory, log_path=log_path)
        pcscd.start()
    except Exception:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    cards = [VirtualJpkiCard(port) for port in pcscd.card_ports]
    try:
        cards[1].set_tries(user_auth=LOW_USER_AUTH_TRIES)
        for card in cards:
            card.insert()
    except Exception:
        for card in cards:
            card.remove()
        pcscd.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return pcscd, cards


def start(state_dir: Path) -> DemoPeripherals:
    """Write the pictures and start the card readers (blocking: run it on a worker thread).

    The caller must put `env()` into `os.environ` before the process's first PC/SC call:
    libpcsclite reads `PCSCLITE_CSOCK_NAME` only once.
    """
    face, form = write_images(state_dir / "peripherals")
    peripherals = DemoPeripherals(face_photo=face, form_photo=form)
    try:
        peripherals.pcscd, peripherals.cards = start_card_readers(state_dir / "pcscd.log")
    except (PcscdNotFoundError, OSError, RuntimeError) as exc:
        peripherals.card_problem = str(exc).splitlines()[0]
        log.warning("demo_without_card_readers", reason=peripherals.card_problem)
    return peripherals
