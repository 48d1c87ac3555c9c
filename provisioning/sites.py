"""Sites as data: `sites/<site-id>.yaml` describes a permanent or pop-up site.

One strict format for both kinds: id, name, address, the calendar's schedule rules, the kiosks
(with the peripherals each must have), the network, the endpoints the kiosks talk to, the
egress allow-list and the government sites the procedures need. No secrets: Wi-Fi passwords,
tokens and keys live elsewhere (a site file is committed to the repository).

Loading a directory is all or nothing: either every file is valid and the files agree with
each other (a kiosk in one site only), or `SiteFileError` lists every problem found.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cloud.calendar.schedule import ScheduleRules, SiteSchedule
from protocol.v1.ids import ID_PATTERN
from protocol.v1.messages import PeripheralName

SITES_DIR = Path(__file__).resolve().parents[1] / "sites"
ALL_PERIPHERALS: tuple[PeripheralName, ...] = (
    "card_reader",
    "tenkey",
    "face_camera",
    "document_scanner",
    "headset",
)
# Keys that would put a secret into a file that is committed: refused with their own message.
_SECRET_KEY = re.compile(r"pass(word|phrase)?|psk|secret|token|private_?key", re.IGNORECASE)
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9-]{1,63})*$")


def _host(value: str) -> str:
    """A DNS name or an IP address (lower-case; no scheme, no port)."""
    value = value.strip().lower()
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or IP address") from None
    return value


def _host_or_network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError:
        return _host(value)


Host = Annotated[str, AfterValidator(_host)]
HostOrNetwork = Annotated[str, AfterValidator(_host_or_network)]
Port = Annotated[int, Field(ge=1, le=65535)]
SiteIdText = Annotated[str, Field(pattern=ID_PATTERN, max_length=63)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteKiosk(Strict):
    kiosk_id: SiteIdText
    hostname: Host = Field(description="How Ansible reaches the box (name or address)")
    peripherals: tuple[PeripheralName, ...] = Field(
        ALL_PERIPHERALS, description="The devices this kiosk must have (the self-test checks)"
    )

    @field_validator("peripherals")
    @classmethod
    def _once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"peripheral listed twice: {', '.join(repeated)}")
        return value


class Network(Strict):
    router: str = Field(min_length=1, max_length=100, description="The Wi-Fi router's model")
    uplink: Literal["fibre", "lte", "5g", "cable", "dsl", "satellite"]
    wifi_ssid: str | None = Field(None, min_length=1, max_length=32)


class Endpoints(Strict):
    broker: str = Field(description="host:port of the MQTT broker (TLS)")
    control_plane_url: str
    turn_urls: tuple[str, ...] = Field(min_length=1)
    ntp_servers: tuple[Host, ...] = Field(min_length=1)

    @field_validator("broker")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not host:port (e.g. mqtt.example.jp:8883)")
        return f"{_host(host)}:{int(port)}"

    @field_validator("control_plane_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.username or parts.password:
            raise ValueError("no credentials in the control plane URL")
        return value.rstrip("/")

    @field_validator("turn_urls")
    @classmethod
    def _turn(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            scheme, _, rest = url.partition(":")
            if scheme not in ("turn", "turns", "stun") or not rest or "@" in rest:
                raise ValueError(f"{url!r} is not a turn:, turns: or stun: URL (no credentials)")
        return value

    @property
    def broker_host(self) -> str:
        return self.broker.rpartition(":")[0]

    @property
    def broker_port(self) -> int:
        return int(self.broker.rpartition(":")[2])


class EgressRule(Strict):
    host: HostOrNetwork
    ports: tuple[Port, ...] = Field(min_length=1)
    proto: Literal["tcp", "udp"] = "tcp"


class SiteFile(Strict):
    """One site. The file's name must be `<site_id>.yaml`."""

    site_id: SiteIdText
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["permanent", "popup"]
    address: str = Field(min_length=1, max_length=200)
    schedule: ScheduleRules
    kiosks: tuple[SiteKiosk, ...] = Field(min_length=1)
    network: Network
    endpoints: Endpoints
    egress_allow: tuple[EgressRule, ...] = ()
    government_sites: tuple[Host, ...] = ()

    @field_validator("kiosks")
    @classmethod
    def _kiosks_once(cls, kiosks: tuple[SiteKiosk, ...]) -> tuple[SiteKiosk, ...]:
        for label, values in (
            ("kiosk", [k.kiosk_id for k in kiosks]),
            ("hostname", [k.hostname for k in kiosks]),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{label} listed twice: {', '.join(repeated)}")
        return kiosks

    @model_validator(mode="after")
    def _popup_has_dates(self) -> SiteFile:
        # A pop-up without periods would open on its weekdays forever.
        if self.kind == "popup" and not self.schedule.periods:
            raise ValueError("a popup site needs schedule.periods (the dates it is open)")
        return self

    def calendar_schedule(self) -> SiteSchedule:
        """The schedule as the calendar uses it (rules plus id and name)."""
        return SiteSchedule.model_validate(
            {**self.schedule.model_dump(), "site_id": self.site_id, "name": self.name}
        )

    @property
    def kiosk_ids(self) -> tuple[str, ...]:
        return tuple(k.kiosk_id for k in self.kiosks)


class SiteFileError(ValueError):
    """One or more site files are invalid; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _secret_keys(data: Any, where: str = "") -> Iterable[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _SECRET_KEY.search(key):
                yield here
            yield from _secret_keys(value, here)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _secret_keys(value, f"{where}.{index}")


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "missing field"
    return str(error["msg"]).removeprefix("Value error, ")


def _problems(path: Path, exc: ValidationError) -> list[str]:
    return [
        f"{path}: {'.'.join(map(str, e['loc'])) or 'file'}: {_message(e)}" for e in exc.errors()
    ]


def parse_site_data(data: object, path: Path, *, check_name: bool = True) -> SiteFile:
    """Validate the parsed YAML of `path`; raises `SiteFileError` naming file and field."""
    if not isinstance(data, dict):
        raise SiteFileError([f"{path}: file: a site file is a mapping (site_id: …, name: …)"])
    secrets = list(_secret_keys(data))
    if secrets:
        raise SiteFileError(
            [f"{path}: {key}: no secrets in a site file (it is committed)" for key in secrets]
        )
    try:
        site = SiteFile.model_validate(data)
    except ValidationError as exc:
        raise SiteFileError(_problems(path, exc)) from None
    if check_name and site.site_id != path.stem:
        raise SiteFileError(
            [f"{path}: site_id: is '{site.site_id}', but the file is named '{path.name}'"]
        )
    return site


def load_site_file(path: Path) -> SiteFile:
    """One site file; raises `SiteFileError` (bad YAML, unknown field, id ≠ file name …)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise SiteFileError([f"{path}: not valid YAML: {exc}"]) from None
    return parse_site_data(data, path)


def load_sites(directory: Path) -> dict[str, SiteFile]:
    """Every `*.yaml` in `directory`, by site id; raises `SiteFileError` listing every
    problem of every file (and kiosks or hosts claimed by two sites) — nothing partial."""
    if not directory.is_dir():
        raise SiteFileError([f"{directory}: not a directory of site files"])
    loaded: dict[Path, SiteFile] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            loaded[path] = load_site_file(path)
        except SiteFileError as exc:
            problems.extend(exc.problems)
    problems.extend(cross_site_problems(loaded))
    if problems:
        raise SiteFileError(problems)
    return {site.site_id: site for site in loaded.values()}


def cross_site_problems(sites: dict[Path, SiteFile]) -> list[str]:
    """A kiosk (or a kiosk's host) may belong to one site only."""
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, site in sites.items():
        for kiosk in site.kiosks:
            owners[("kiosk", kiosk.kiosk_id)].append(str(path))
            owners[("hostname", kiosk.hostname)].append(str(path))
    return [
        f"{label} {value} is in two sites: {', '.join(sorted(found))}"
        for (label, value), found in sorted(owners.items())
        if len(found) > 1
    ]
