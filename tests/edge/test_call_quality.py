"""Audio keeps priority: the video steps down on a weak link and back up when it recovers."""

from __future__ import annotations

from edge.media.peer import PeerStats
from edge.media.quality import LEVELS, QualityGovernor
from edge.media.sources import TestPatternCamera
from edge.media.tracks import LatestFrameTrack


def stats(sent: int, lost: int, frames: int, rtt: float | None = 20.0) -> PeerStats:
    return PeerStats(
        rtt_ms=rtt, jitter_ms=2.0, packets_lost=lost, packets_sent=sent, camera_frames_sent=frames
    )


def test_losses_step_the_video_down_at_once_and_up_slowly() -> None:
    governor = QualityGovernor()
    first = governor.observe(stats(0, 0, 0), at=0.0)
    assert first.video_level == 0 and first.loss_percent == 0.0
    # 1000 packets sent, 100 lost in two seconds: 9 % loss → one level down.
    report = governor.observe(stats(900, 100, 60), at=2.0)
    assert report.loss_percent == 10.0
    assert report.video_fps == 30.0
    assert report.video_level == 1 and governor.limit == LEVELS[1]
    # A long round trip is as bad as losses.
    assert governor.observe(stats(1800, 100, 90, rtt=900.0), at=4.0).video_level == 2
    # Good again: three clean samples per level up, never below 0.
    levels = [
        governor.observe(stats(1800 + 900 * n, 100, 90 + 60 * n), at=4.0 + 2 * n).video_level
        for n in range(1, 7)
    ]
    assert levels == [2, 2, 1, 1, 1, 0]
    # The lowest level holds however bad it gets.
    for n in range(10):
        governor.observe(stats(10_000 + n, 10_000 + 1000 * n, 0), at=100.0 + n)
    assert governor.level == len(LEVELS) - 1


async def test_a_limited_track_sends_fewer_and_smaller_frames() -> None:
    track = LatestFrameTrack(TestPatternCamera(640, 480, fps=30))
    try:
        frame = await track.recv()
        assert (frame.width, frame.height) == (640, 480)
        track.max_fps, track.scale = 5.0, 0.5
        frame = await track.recv()
        assert (frame.width, frame.height) == (320, 240)
        sent_before, read_before = track.frames_sent, track.frames_read
        for _ in range(5):
            await track.recv()
        read = track.frames_read - read_before
        # 5 frames sent at 5 per second while the camera went on at 30: about 6 read per
        # frame sent. A ratio, not a time: the shared machines are noisy.
        assert track.frames_sent - sent_before == 5
        assert read >= 3 * 5, read
    finally:
        track.stop()
