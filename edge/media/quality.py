"""Audio keeps priority on a weak link: video steps down first.

Every few seconds the call's statistics are turned into a `CallQuality` report (also sent as
telemetry) and a video level: level 0 is full video; each step lowers the frame rate and
the resolution of the camera and the screen, so the encoder sends fewer bits and the audio,
which is never touched, gets through. A bad sample steps down at once; three good samples
in a row step back up one level (slow up, fast down, so the call does not oscillate).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.media.peer import PeerStats
from protocol.v1 import CallQuality


@dataclass(frozen=True, slots=True)
class VideoLimit:
    max_fps: float
    scale: float  # of the source's width and height


LEVELS: tuple[VideoLimit, ...] = (
    VideoLimit(30, 1.0),
    VideoLimit(15, 1.0),
    VideoLimit(10, 0.75),
    VideoLimit(5, 0.5),
    VideoLimit(2, 0.5),
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    loss_percent: float = 5.0
    rtt_ms: float = 400.0
    jitter_ms: float = 60.0
    good_samples_to_step_up: int = 3


class QualityGovernor:
    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self._thresholds = thresholds or Thresholds()
        self.level = 0
        self._good = 0
        self._previous: PeerStats | None = None
        self._previous_at = 0.0

    @property
    def limit(self) -> VideoLimit:
        return LEVELS[self.level]

    def observe(self, stats: PeerStats, at: float) -> CallQuality:
        """Take one sample (`at` in monotonic seconds); returns the report and moves the level."""
        loss = 0.0
        fps = 0.0
        if self._previous is not None and at > self._previous_at:
            sent = stats.packets_sent - self._previous.packets_sent
            lost = stats.packets_lost - self._previous.packets_lost
            if sent + lost > 0:
                loss = 100.0 * max(lost, 0) / (sent + max(lost, 0))
            fps = (stats.camera_frames_sent - self._previous.camera_frames_sent) / (
                at - self._previous_at
            )
        self._previous, self._previous_at = stats, at
        t = self._thresholds
        poor = (
            loss > t.loss_percent
            or (stats.rtt_ms is not None and stats.rtt_ms > t.rtt_ms)
            or (stats.jitter_ms is not None and stats.jitter_ms > t.jitter_ms)
        )
        if poor:
            self._good = 0
            self.level = min(self.level + 1, len(LEVELS) - 1)
        else:
            self._good += 1
            if self._good >= t.good_samples_to_step_up and self.level > 0:
                self.level -= 1
                self._good = 0
        return CallQuality(
            rtt_ms=stats.rtt_ms,
            jitter_ms=stats.jitter_ms,
            loss_percent=round(min(loss, 100.0), 2),
            video_fps=round(max(fps, 0.0), 1),
            video_level=self.level,
        )
