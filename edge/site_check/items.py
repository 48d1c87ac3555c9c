"""Building items: a measured value against a limit, and a failure with a short reason."""

from __future__ import annotations

from protocol.v1 import SiteCheckItem
from protocol.v1.messages import SiteCheckName, SiteCheckUnit

DETAIL_CHARS = 200  # SiteCheckItem.detail's bound


def clip(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def at_most(
    name: SiteCheckName, measured: float, limit: float, unit: SiteCheckUnit, detail: str = ""
) -> SiteCheckItem:
    """Passes when `measured` stays within the maximum `limit`."""
    return SiteCheckItem(
        name=name,
        passed=measured <= limit,
        measured=round(measured, 3),
        unit=unit,
        limit=limit,
        detail=clip(detail),
    )


def at_least(
    name: SiteCheckName, measured: float, limit: float, unit: SiteCheckUnit, detail: str = ""
) -> SiteCheckItem:
    """Passes when `measured` reaches the minimum `limit`."""
    return SiteCheckItem(
        name=name,
        passed=measured >= limit,
        measured=round(measured, 3),
        unit=unit,
        limit=limit,
        detail=clip(detail),
    )


def failed(
    name: SiteCheckName,
    detail: str,
    *,
    unit: SiteCheckUnit | None = None,
    limit: float | None = None,
) -> SiteCheckItem:
    return SiteCheckItem(name=name, passed=False, unit=unit, limit=limit, detail=clip(detail))
