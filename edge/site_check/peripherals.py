"""One item per peripheral the site expects, from the agent's own self-test."""

from __future__ import annotations

from collections.abc import Sequence

from edge.site_check.items import failed
from protocol.v1 import Peripheral, SiteCheckItem
from protocol.v1.messages import PeripheralName


def peripheral_items(
    expected: Sequence[PeripheralName], results: Sequence[Peripheral]
) -> list[SiteCheckItem]:
    by_name = {result.name: result for result in results}
    items = []
    for name in expected:
        result = by_name.get(name)
        if result is None:
            items.append(failed(name, "not installed on this kiosk"))
            continue
        detail = f"self-test: {result.status}"
        if result.simulated:
            detail += " (simulated: no real device)"
        if result.detail:
            detail += f"; {result.detail}"
        items.append(SiteCheckItem(name=name, passed=result.status == "ok", detail=detail[:200]))
    return items
