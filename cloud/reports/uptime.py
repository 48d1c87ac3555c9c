"""Uptime of each window (kiosk) and site against the opening hours.

Only opening hours count. A minute is serviceable when the kiosk was online (birth to will
or goodbye, from `kiosk_state_change`), its critical peripherals worked (the
`peripheral_disconnected` / `peripheral_connected` events) and an operator could be reached
(no staffing gap recorded by routing); every scheduled stretch that was not serviceable is
an outage, with its cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cloud.calendar.days import Closure
from cloud.calendar.intervals import opening_intervals
from cloud.calendar.schedule import SiteSchedule
from cloud.reports.intervals import Interval, intersect, minutes, normalise, subtract

CAUSES = {
    "will": "接続断（端末の応答なし）",
    "goodbye": "エージェント停止",
    "never": "記録なし（未接続）",
    "no_operator": "オペレーター不在",
}
# Without these a resident's procedure cannot be done (the scanner is optional).
CRITICAL_PERIPHERALS = {
    "card_reader": "カードリーダー",
    "tenkey": "テンキー",
    "face_camera": "顔写真カメラ",
    "headset": "ヘッドセット",
}


@dataclass(frozen=True, slots=True)
class PeripheralChange:
    at: datetime
    peripheral: str
    working: bool


def peripheral_down(
    changes: Sequence[PeripheralChange], *, until: datetime
) -> list[tuple[Interval, str]]:
    """Stretches in which a critical peripheral was not working, with its name."""
    down: dict[str, datetime] = {}
    result: list[tuple[Interval, str]] = []
    for change in sorted(changes, key=lambda c: c.at):
        if change.peripheral not in CRITICAL_PERIPHERALS:
            continue
        if not change.working and change.peripheral not in down:
            down[change.peripheral] = change.at
        elif change.working and change.peripheral in down:
            result.append(((down.pop(change.peripheral), change.at), change.peripheral))
    result += [((start, until), name) for name, start in down.items() if start < until]
    return result


@dataclass(frozen=True, slots=True)
class StateChange:
    at: datetime
    status: str  # online | offline
    cause: str  # birth | will | goodbye


@dataclass(frozen=True, slots=True)
class Outage:
    start: datetime
    end: datetime
    cause: str

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class WindowUptime:
    kiosk_id: str
    scheduled_minutes: float
    serviceable_minutes: float
    outages: tuple[Outage, ...]

    @property
    def ratio(self) -> float | None:
        return self.serviceable_minutes / self.scheduled_minutes if self.scheduled_minutes else None


@dataclass(frozen=True, slots=True)
class SiteUptime:
    site_id: str
    start: date
    end: date
    scheduled_minutes: float
    windows: tuple[WindowUptime, ...] = field(default_factory=tuple)

    @property
    def ratio(self) -> float | None:
        total = sum(w.scheduled_minutes for w in self.windows)
        return sum(w.serviceable_minutes for w in self.windows) / total if total else None


def online_intervals(
    changes: Sequence[StateChange], *, until: datetime
) -> tuple[list[Interval], list[tuple[Interval, str]]]:
    """Online stretches, and the offline stretches with what ended the previous online one."""
    online: list[Interval] = []
    offline: list[tuple[Interval, str]] = []
    since: datetime | None = None
    offline_since: datetime | None = None
    offline_cause = "never"
    for change in sorted(changes, key=lambda c: c.at):
        if change.status == "online" and since is None:
            if offline_since is not None:
                offline.append(((offline_since, change.at), offline_cause))
            since, offline_since = change.at, None
        elif change.status == "offline" and since is not None:
            online.append((since, change.at))
            since, offline_since, offline_cause = None, change.at, change.cause
    if since is not None:
        online.append((since, until))
    elif offline_since is not None:
        offline.append(((offline_since, until), offline_cause))
    return online, offline


def window_uptime(
    kiosk_id: str,
    changes: Sequence[StateChange],
    scheduled: list[Interval],
    *,
    until: datetime,
    no_operator: Sequence[Interval] = (),
    peripherals: Sequence[PeripheralChange] = (),
) -> WindowUptime:
    online, offline = online_intervals(changes, until=until)
    gaps = normalise(no_operator)
    broken = peripheral_down(peripherals, until=until)
    unusable = normalise([*gaps, *(interval for interval, _ in broken)])
    serviceable = subtract(intersect(scheduled, online), unusable)
    outages: list[Outage] = []
    up = intersect(scheduled, online)
    # The kiosk was up but a critical device was broken, or nobody could take its call.
    for interval, name in broken:
        for start, end in intersect(up, [interval]):
            outages.append(Outage(start, end, f"周辺機器の故障（{CRITICAL_PERIPHERALS[name]}）"))
    for start, end in subtract(intersect(up, gaps), [i for i, _ in broken]):
        outages.append(Outage(start, end, CAUSES["no_operator"]))
    known = normalise(i for i, _ in offline)
    for interval, cause in offline:
        for start, end in intersect(scheduled, [interval]):
            outages.append(Outage(start, end, CAUSES.get(cause, cause)))
    # Scheduled time before the first record, or otherwise unaccounted for.
    for start, end in subtract(subtract(scheduled, online), known):
        outages.append(Outage(start, end, CAUSES["never"]))
    return WindowUptime(
        kiosk_id=kiosk_id,
        scheduled_minutes=minutes(scheduled),
        serviceable_minutes=minutes(serviceable),
        outages=tuple(sorted(outages, key=lambda o: o.start)),
    )


def site_uptime(
    site: SiteSchedule,
    start: date,
    end: date,
    changes_by_kiosk: dict[str, Sequence[StateChange]],
    *,
    closures: Iterable[Closure] = (),
    now: datetime,
    no_operator: Sequence[Interval] = (),
    peripherals: dict[str, Sequence[PeripheralChange]] | None = None,
) -> SiteUptime:
    """Uptime from `start` to `end` (inclusive) for every kiosk of the site, up to `now`."""
    scheduled = [
        (a, min(b, now)) for a, b in opening_intervals(site, start, end, closures) if a < now
    ]
    period_end = min(datetime.combine(end + timedelta(days=1), datetime.min.time(), site.zone), now)
    windows = tuple(
        window_uptime(
            kiosk_id,
            changes,
            scheduled,
            until=period_end,
            no_operator=no_operator,
            peripherals=(peripherals or {}).get(kiosk_id, ()),
        )
        for kiosk_id, changes in sorted(changes_by_kiosk.items())
    )
    return SiteUptime(site.site_id, start, end, minutes(scheduled), windows)
