"""Network facts read from the real host files, on samples written like the kernel's."""

from __future__ import annotations

from pathlib import Path

from edge.telemetry.network import RoundTrips, default_route_interface, link_type


def test_default_route_and_link_type(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway\tFlags\n"
        "eth0\t0000A8C0\t00000000\t0001\n"
        "wlan0\t00000000\t0100A8C0\t0003\n"
    )
    assert default_route_interface(route) == "wlan0"
    assert default_route_interface(tmp_path / "missing") is None
    (tmp_path / "net" / "wlp2s0" / "wireless").mkdir(parents=True)
    assert link_type("wlp2s0", tmp_path / "net") == "wifi"
    assert link_type("enp3s0", tmp_path / "net") == "ethernet"
    assert link_type("wwan0", tmp_path / "net") == "cellular"
    assert link_type(None, tmp_path / "net") == "unknown"
    # The machine's own table parses too (whatever its answer).
    assert link_type(default_route_interface()) in {
        "ethernet",
        "wifi",
        "cellular",
        "other",
        "unknown",
    }


def test_round_trip_median() -> None:
    trips = RoundTrips(keep=3)
    assert trips.median_ms() is None
    for seconds in (0.010, 0.500, 0.020, 0.030):
        trips.add(seconds)
    assert trips.median_ms() == 30.0  # the 0.010 fell out of the window
