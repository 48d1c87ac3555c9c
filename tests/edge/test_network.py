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


async def test_link_waits_for_time_sync_but_not_forever(tmp_path: Path) -> None:
    from edge.counters import Counters
    from edge.link import KioskLink
    from edge.outbox import Outbox
    from edge.settings import EdgeSettings

    answers = iter([False, False, True])

    def make(check, wait_s: float) -> KioskLink:  # type: ignore[no-untyped-def]
        settings = EdgeSettings(
            kiosk_id="clock-k1",
            site_id="city-hall",
            ca_file=tmp_path / "ca.crt",
            cert_file=tmp_path / "k.crt",
            key_file=tmp_path / "k.key",
            state_dir=tmp_path,
            clock_sync_wait_s=wait_s,
        )

        async def no_state(*_args):  # type: ignore[no-untyped-def]
            raise AssertionError("not used")

        async def no_message(*_args) -> None:  # type: ignore[no-untyped-def]
            return None

        return KioskLink(
            settings=settings,
            counters=Counters(tmp_path),
            outbox=Outbox(10),
            make_state=no_state,
            on_message=no_message,
            clock_check=check,
        )

    assert await make(lambda: next(answers), wait_s=10).wait_for_clock() is True
    assert await make(lambda: False, wait_s=0.2).wait_for_clock() is False
    assert await make(lambda: None, wait_s=10).wait_for_clock() is True  # cannot tell: go
