"""From the agent's settings and a command to a plan, and from items to the command's
outcome and the `SiteCheckMessage` (also what `madoguchi edge check` prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

from edge.commands import CommandOutcome
from edge.settings import EdgeSettings
from edge.site_check.plan import BrokerTarget, SiteCheckPlan, plan_from_args
from protocol.v1 import SiteCheckItem, SiteCheckMessage


def broker_target(settings: EdgeSettings) -> BrokerTarget:
    return BrokerTarget(
        host=settings.broker_host,
        port=settings.broker_port,
        ca_file=settings.ca_file,
        cert_file=settings.cert_file,
        key_file=settings.key_file,
        kiosk_id=settings.kiosk_id,
    )


def plan_for(settings: EdgeSettings, args: Mapping[str, object]) -> SiteCheckPlan:
    return plan_from_args(
        args, broker=broker_target(settings), default_peripherals=settings.peripherals
    )


def outcome(items: Sequence[SiteCheckItem]) -> CommandOutcome:
    """The command's final result: succeeded only when every item passed."""
    failing = [item.name for item in items if not item.passed]
    output: dict[str, bool | int | float | str] = {item.name: item.passed for item in items}
    if failing:
        return CommandOutcome("failed", "failing: " + ", ".join(failing), output)
    return CommandOutcome("succeeded", f"all {len(items)} checks passed", output)


def site_check_message(
    *, kiosk_id: str, site_id: str, seq: int, command_id: UUID, items: Sequence[SiteCheckItem]
) -> SiteCheckMessage:
    return SiteCheckMessage(
        kiosk_id=kiosk_id,
        sent_at=datetime.now(UTC),
        seq=seq,
        command_id=command_id,
        site_id=site_id,
        passed=all(item.passed for item in items),
        items=tuple(items),
    )
