"""The resident's secrets stay on the kiosk: the PIN guard, the tenkey watcher that feeds it,
the blanked screen track and the session files kept in RAM and wiped.

The tenkey driver's device side cannot run here (no /dev/uinput in the test machine, so no
virtual keypad): its event classification is tested with real evdev event codes, and the
guard with the calls the driver makes.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from av.video.frame import VideoFrame
from evdev import ecodes

from edge.media.sources import StillImageCamera, open_source
from edge.media.tracks import LatestFrameTrack
from edge.peripherals.tenkey import find_device, key_down
from edge.privacy.pin_guard import GuardReason, GuardTimeouts, PinGuard
from edge.session_files import SessionFiles, is_ram_backed


def test_tenkey_reports_only_that_a_key_went_down_and_whether_it_was_enter() -> None:
    assert key_down(ecodes.EV_KEY, ecodes.KEY_KP1, 1) is False
    assert key_down(ecodes.EV_KEY, ecodes.KEY_KPENTER, 1) is True
    assert key_down(ecodes.EV_KEY, ecodes.KEY_ENTER, 1) is True
    assert key_down(ecodes.EV_KEY, ecodes.KEY_KP1, 0) is None  # release
    assert key_down(ecodes.EV_KEY, ecodes.KEY_KP1, 2) is None  # auto-repeat
    assert key_down(ecodes.EV_MSC, ecodes.MSC_SCAN, 1) is None
    assert key_down(ecodes.EV_SYN, ecodes.SYN_REPORT, 0) is None


def test_tenkey_is_found_by_path_or_name() -> None:
    paths = ["/dev/input/by-id/usb-Acme_Keypad-event-kbd", "/dev/input/event3"]
    names = [("/dev/input/event3", "SIGMA Numeric Keypad"), ("/dev/input/event4", "Mouse")]
    assert find_device(paths, names, "acme_keypad") == paths[0]
    assert find_device(paths, names, "numeric keypad") == "/dev/input/event3"
    assert find_device(paths, names, "card") is None


async def test_pin_guard_rises_on_the_first_key_and_falls_on_enter() -> None:
    changes: list[tuple[bool, frozenset[GuardReason]]] = []
    guard = PinGuard(lambda active, reasons: changes.append((active, reasons)))
    for _ in range(4):
        guard.tenkey_key(enter=False)
    assert guard.active and changes == [(True, frozenset({GuardReason.TENKEY}))]
    guard.tenkey_key(enter=True)
    assert not guard.active
    assert changes[-1] == (False, frozenset())
    guard.tenkey_key(enter=True)  # Enter alone raises nothing
    assert not guard.active and len(changes) == 2


async def test_pin_guard_falls_after_a_quiet_timeout_and_the_operator_step_holds_it() -> None:
    changes: list[bool] = []
    guard = PinGuard(
        lambda active, _: changes.append(active),
        GuardTimeouts(tenkey_quiet_s=0.05, operator_step_s=0.3),
    )
    guard.operator_step(True)
    guard.tenkey_key(enter=False)
    assert guard.reasons == {GuardReason.OPERATOR, GuardReason.TENKEY}
    await asyncio.sleep(0.12)
    # The tenkey entry timed out but the operator's step still holds the guard.
    assert guard.active and guard.reasons == {GuardReason.OPERATOR}
    guard.operator_step(False)
    assert not guard.active
    guard.operator_step(True)
    await asyncio.sleep(0.45)  # a step the operator forgot to unmark ends by itself
    assert not guard.active
    guard.tenkey_key(enter=False)
    guard.reset()
    assert not guard.active and changes[-1] is False


def _frame(width: int, height: int, value: int) -> VideoFrame:
    pixels = np.full((height, width, 3), value, np.uint8)
    return VideoFrame.from_ndarray(pixels, format="rgb24")


class _Frames:
    """Hands out bright frames as fast as asked: the screen as the track sees it."""

    name = "frames"

    def __init__(self) -> None:
        self.closed = False

    def read(self) -> VideoFrame | None:
        return None if self.closed else _frame(320, 200, 200)

    def close(self) -> None:
        self.closed = True


async def test_a_guarded_screen_track_sends_black_frames_of_the_same_size() -> None:
    track = LatestFrameTrack(_Frames())
    try:
        bright = (await track.recv()).to_ndarray(format="rgb24")
        assert bright.mean() > 150
        track.blanked = True
        black = await track.recv()
        assert (black.width, black.height) == (320, 200)
        assert black.to_ndarray(format="rgb24").max() == 0
        # The newest real frame is still there for a photo or a scan, never sent.
        latest = track.latest_image()
        assert latest is not None and latest.mean() > 150
        track.blanked = False
        assert (await track.recv()).to_ndarray(format="rgb24").mean() > 150
    finally:
        track.stop()


def test_a_photograph_stands_in_for_a_camera(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((90, 70, 3), (10, 20, 30), np.uint8))
    camera = open_source(f"image:{path}")
    assert isinstance(camera, StillImageCamera)
    frame = camera.read()
    assert frame is not None and (frame.width, frame.height) == (70, 90)
    assert tuple(frame.to_ndarray(format="bgr24")[0, 0]) == (10, 20, 30)
    camera.close()
    assert camera.read() is None
    (tmp_path / "not.png").write_text("hello")
    with pytest.raises(OSError, match="not a readable image"):
        open_source(f"image:{tmp_path / 'not.png'}")


def test_session_files_are_private_wiped_at_the_end_and_after_a_crash() -> None:
    root = Path("/dev/shm") / f"madoguchi-test-{os.getpid()}"
    files = SessionFiles(root)
    try:
        files.clean_stale()
        assert is_ram_backed(root)
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        photo = files.write("photo.jpg", b"\xff\xd8 not really a photo")
        directory = files.current
        assert directory is not None and photo.parent == directory
        assert stat.S_IMODE(photo.stat().st_mode) == 0o600
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        with pytest.raises(ValueError):
            files.write("../escape.jpg", b"x")
        files.end()
        assert not directory.exists() and list(root.iterdir()) == []
        # A crash: the session's files stay behind until the next start.
        files.write("scan.png", b"scan")
        crashed = SessionFiles(root)
        assert crashed.clean_stale() == 1
        assert list(root.iterdir()) == []
    finally:
        files.end()
        root.rmdir()


def test_other_file_systems_are_not_taken_for_ram() -> None:
    assert not is_ram_backed(Path("/proc/self"))
    assert not is_ram_backed(Path("/sys/kernel"))
