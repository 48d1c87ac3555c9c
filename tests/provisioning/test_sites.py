"""Site files: the shipped ones load, the calendar reads their schedules, and every mistake is
refused with the file and the field named, nothing loaded half-way."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloud.calendar.days import day_schedule
from cloud.calendar.schedule import InvalidSiteError, load_site
from provisioning.sites import SITES_DIR, SiteFileError, load_site_file, load_sites


def shipped(site_id: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (SITES_DIR / f"{site_id}.yaml").read_text(encoding="utf-8")
    )
    return data


def write(directory: Path, data: dict[str, Any], name: str | None = None) -> Path:
    path = directory / (name or f"{data['site_id']}.yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def popup(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(shipped("popup-example"))
    data.update(changes)
    return data


def test_the_shipped_sites_load_and_agree() -> None:
    sites = load_sites(SITES_DIR)
    assert {"city-hall", "popup-example"} <= set(sites)
    city, pop = sites["city-hall"], sites["popup-example"]
    assert city.kind == "permanent" and pop.kind == "popup"
    assert city.kiosk_ids == ("city-hall-01", "city-hall-02")  # the demo's two windows
    assert pop.endpoints.broker_host == "mqtt.madoguchi.example"
    assert pop.endpoints.broker_port == 8883
    assert pop.network.uplink == "lte"


def test_the_calendar_reads_the_schedule_from_the_site_file() -> None:
    city = load_site("city-hall")
    assert city.name == "浦添市役所本庁舎1階"
    assert [(r.weekday, r.nth) for r in city.special_open_days] == [("sun", 2), ("sat", 3)]
    site = load_site("popup-example")
    before, first, last, after = (day_schedule(site, date(2026, 12, d)) for d in (10, 11, 13, 14))
    assert not before.open and before.reason_code == "outside_period"
    assert first.open and first.opens is not None and first.opens.strftime("%H:%M") == "10:00"
    assert last.closes is not None and last.closes.strftime("%H:%M") == "15:00"  # its own hours
    assert not after.open


def test_the_calendar_refuses_a_bad_site_file_naming_the_field(tmp_path: Path) -> None:
    write(tmp_path, popup(wifi="x"), "popup-example.yaml")
    with pytest.raises(InvalidSiteError, match=r"popup-example\.yaml: wifi: unknown field"):
        load_site("popup-example", sites_dir=tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(colour="blue"), "popup-example.yaml: colour: unknown field"),
        (
            lambda d: d["network"].update(wifi_password="hunter2"),
            "network.wifi_password: no secrets in a site file",
        ),
        (lambda d: d.update(site_id="Popup_Example"), "site_id: String should match pattern"),
        (
            lambda d: d["schedule"]["periods"].append(
                {"first": "2026-12-12", "last": "2026-12-14"}
            ),
            "schedule: overlapping periods: 2026-12-11..2026-12-12 and 2026-12-12..2026-12-14",
        ),
        (
            lambda d: d["kiosks"].append(dict(d["kiosks"][0], hostname="192.168.8.22")),
            "kiosks: kiosk listed twice: popup-example-01",
        ),
        (
            lambda d: d["schedule"]["weekly"].update(
                mon={"opens": "10:00", "closes": "09:00", "last_reception": "09:30"}
            ),
            "schedule.weekly.mon: hours must satisfy opens < last_reception <= closes",
        ),
        (lambda d: d["endpoints"].update(broker="mqtt.example"), "endpoints.broker: "),
        (
            lambda d: d["endpoints"].update(turn_urls=["turn:user:pw@turn.example"]),
            "endpoints.turn_urls: ",
        ),
        (lambda d: d["schedule"].pop("periods"), "a popup site needs schedule.periods"),
        (lambda d: d.pop("network"), "network: missing field"),
    ],
)
def test_mistakes_are_refused_with_file_and_field(
    tmp_path: Path, change: Any, message: str
) -> None:
    data = popup()
    change(data)
    path = write(tmp_path, data, "popup-example.yaml")
    with pytest.raises(SiteFileError) as refused:
        load_site_file(path)
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


def test_the_site_id_must_be_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, popup(), "popup-other.yaml")
    with pytest.raises(SiteFileError, match=r"site_id: is 'popup-example'.*'popup-other\.yaml'"):
        load_site_file(path)


def test_a_directory_loads_whole_or_lists_every_problem(tmp_path: Path) -> None:
    write(tmp_path, shipped("city-hall"))
    write(tmp_path, popup())
    assert set(load_sites(tmp_path)) == {"city-hall", "popup-example"}

    # A second pop-up that claims city hall's kiosk, and a broken third file: both problems
    # are reported at once, and nothing is returned.
    other = popup(site_id="popup-two")
    other["kiosks"] = [{"kiosk_id": "city-hall-01", "hostname": "192.168.9.21"}]
    write(tmp_path, other)
    (tmp_path / "popup-three.yaml").write_text("site_id: [", encoding="utf-8")
    with pytest.raises(SiteFileError) as refused:
        load_sites(tmp_path)
    problems = refused.value.problems
    assert any("popup-three.yaml: not valid YAML" in p for p in problems)
    assert any(
        p.startswith("kiosk city-hall-01 is in two sites:")
        and "city-hall.yaml" in p
        and "popup-two.yaml" in p
        for p in problems
    )
    assert len(problems) == 2
