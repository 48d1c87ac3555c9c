"""Coverage of the opening hours by the roster, minute by minute (pure; no storage).

The rule (see docs/operations.md, "Shifts and coverage"):

* **Online windows.** Every window of every open site must be able to reach an operator at
  once. Routing keeps one queue for all sites and rings one operator per call, so an
  operator serves one window at a time: at each minute a site is open, the operators on
  shift must be at least the number of windows of all sites open at that minute (a site's
  windows are its registered kiosks; the contract's two when none is registered yet).
* **Support staff.** At least one support staff member on shift at the site during its
  opening hours, except the support break (12:00–13:00 at city hall), which is not
  required coverage.

Intervals are half-open [start, end) aware datetimes; opening hours and shifts lie on minute
boundaries, so the gaps are whole minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

Interval = tuple[datetime, datetime]

OPERATOR = "operator"
SUPPORT = "support"
MISSING_LABELS = {OPERATOR: "オペレータ不足", SUPPORT: "支援員不在"}


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch in which fewer staff are on shift than the rule needs."""

    start: datetime
    end: datetime
    missing: str  # operator | support
    on_shift: int
    needed: int

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds()) // 60

    @property
    def label(self) -> str:
        return MISSING_LABELS[self.missing]


def _count(intervals: Iterable[Interval], moment: datetime) -> int:
    return sum(1 for start, end in intervals if start <= moment < end)


def gaps(
    within: Sequence[Interval],
    shifts: Sequence[Interval],
    needed: Callable[[datetime], int],
    missing: str,
    changes: Iterable[datetime] = (),
) -> list[Gap]:
    """The stretches of `within` where fewer `shifts` overlap than `needed` says, merged
    while contiguous and equally short of staff; `changes` are when `needed` changes."""
    points = sorted({p for interval in (*within, *shifts) for p in interval} | set(changes))
    found: list[Gap] = []
    for a, b in pairwise(points):
        if not any(start <= a < end for start, end in within):
            continue
        need = needed(a)
        have = _count(shifts, a)
        if have >= need:
            continue
        last = found[-1] if found else None
        if last and last.end == a and (last.on_shift, last.needed) == (have, need):
            found[-1] = Gap(last.start, b, missing, have, need)
        else:
            found.append(Gap(a, b, missing, have, need))
    return found


def demand(windows_open: Sequence[tuple[Interval, int]]) -> Callable[[datetime], int]:
    """Operators needed at a moment: the windows of every site open then."""

    def needed(moment: datetime) -> int:
        return sum(n for (start, end), n in windows_open if start <= moment < end)

    return needed


def operator_gaps(
    opening: Sequence[Interval],
    operator_shifts: Sequence[Interval],
    windows_open: Sequence[tuple[Interval, int]],
) -> list[Gap]:
    changes = [p for interval, _windows in windows_open for p in interval]
    return gaps(opening, operator_shifts, demand(windows_open), OPERATOR, changes)


def support_gaps(duty: Sequence[Interval], support_shifts: Sequence[Interval]) -> list[Gap]:
    return gaps(duty, support_shifts, lambda _moment: 1, SUPPORT)
