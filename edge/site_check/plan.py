"""What one run of the connection test checks, read from the `site_check` command's args.

The args (set by the control plane, `cloud/site_checks/service.py`), all scalar strings:

- `probe_url`: the control plane's probe endpoint (`…/api/kiosk-probe`), http or https;
- `probe_token`: the short-lived token that endpoint accepts from this kiosk for this run;
- `turn_urls`: comma-separated `turn:`/`turns:` URLs of the relay (may be absent);
- `turn_username`, `turn_credential`: the ephemeral TURN credential for this kiosk;
- `peripherals`: comma-separated peripheral names the site expects on this kiosk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from protocol.v1.messages import PeripheralName

MAX_TURN_URLS = 2


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    """The broker as the agent reaches it, and the kiosk's own TLS identity."""

    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    kiosk_id: str


@dataclass(frozen=True, slots=True)
class SiteCheckPlan:
    broker: BrokerTarget
    probe_url: str | None = None
    probe_token: str | None = None
    turn_urls: tuple[str, ...] = ()
    turn_username: str | None = None
    turn_credential: str | None = None
    peripherals: tuple[PeripheralName, ...] = ()

    @property
    def kiosk_id(self) -> str:
        return self.broker.kiosk_id


def _text(args: Mapping[str, object], key: str) -> str | None:
    value = args.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def parse_peripherals(
    value: str | None, default: tuple[PeripheralName, ...]
) -> tuple[PeripheralName, ...]:
    if value is None:
        return default
    known = set(get_args(PeripheralName))
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown peripherals: {', '.join(sorted(unknown))[:100]}")
    return tuple(dict.fromkeys(names))  # type: ignore[arg-type]  # checked against the Literal


def plan_from_args(
    args: Mapping[str, object],
    *,
    broker: BrokerTarget,
    default_peripherals: tuple[PeripheralName, ...],
) -> SiteCheckPlan:
    """The plan for a command's args; `ValueError` with a short reason for bad ones."""
    probe_url = _text(args, "probe_url")
    if probe_url is not None and not probe_url.startswith(("https://", "http://")):
        raise ValueError("probe_url must be http(s)")
    turn = _text(args, "turn_urls")
    turn_urls = tuple(url.strip() for url in (turn or "").split(",") if url.strip())
    if len(turn_urls) > MAX_TURN_URLS:
        raise ValueError(f"at most {MAX_TURN_URLS} TURN URLs")
    if any(not url.startswith(("turn:", "turns:")) for url in turn_urls):
        raise ValueError("turn_urls must be turn: or turns: URLs")
    return SiteCheckPlan(
        broker=broker,
        probe_url=probe_url,
        probe_token=_text(args, "probe_token"),
        turn_urls=turn_urls,
        turn_username=_text(args, "turn_username"),
        turn_credential=_text(args, "turn_credential"),
        peripherals=parse_peripherals(_text(args, "peripherals"), default_peripherals),
    )
