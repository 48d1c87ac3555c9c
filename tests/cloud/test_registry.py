"""The kiosk registry's rules, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select

from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.fleet import service
from cloud.fleet.models import Kiosk, KioskEvent, KioskStateChange
from protocol.v1 import EventMessage, HostHealth, Peripheral, StateMessage, TelemetryMessage
from tests.cloud.conftest import Cloud

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def state(
    status: Literal["online", "offline"], bd_seq: int, *, will: bool = False, kiosk: str = "k1"
) -> StateMessage:
    return StateMessage(
        kiosk_id=kiosk,
        sent_at=NOW,
        seq=bd_seq,
        status=status,
        bd_seq=bd_seq,
        will=will,
        site_id="city-hall",
        agent_version="0.1.0",
        os_version="Debian 12",
        peripherals=(Peripheral(name="card_reader", status="ok", simulated=True),)
        if status == "online"
        else (),
    )


async def apply(cloud: Cloud, message: StateMessage) -> str:
    async with transaction(cloud.app.state.sessions) as db:
        return await service.apply_state(db=db, message=message, received_at=NOW)


async def kiosk_row(cloud: Cloud, kiosk_id: str = "k1") -> Kiosk:
    async with transaction(cloud.app.state.sessions) as db:
        kiosk = await db.get(Kiosk, kiosk_id)
        assert kiosk is not None
        return kiosk


async def test_stale_will_never_marks_a_live_kiosk_offline(cloud: Cloud) -> None:
    assert await apply(cloud, state("online", 10)) == "applied"
    assert await apply(cloud, state("online", 11)) == "applied"  # reconnected
    assert await apply(cloud, state("offline", 10, will=True)) == "stale"
    assert (await kiosk_row(cloud)).status == "online"
    assert await apply(cloud, state("offline", 11, will=True)) == "applied"
    row = await kiosk_row(cloud)
    assert (row.status, row.bd_seq, row.online_since) == ("offline", 11, None)


async def test_birth_after_death_brings_the_kiosk_back_and_history_is_kept(cloud: Cloud) -> None:
    await apply(cloud, state("online", 1))
    await apply(cloud, state("offline", 1, will=True))
    assert await apply(cloud, state("offline", 1, will=True)) == "unchanged"
    await apply(cloud, state("online", 2))
    assert await apply(cloud, state("online", 2)) == "unchanged"  # retained birth again
    async with transaction(cloud.app.state.sessions) as db:
        changes = list(
            await db.execute(
                select(
                    KioskStateChange.status, KioskStateChange.cause, KioskStateChange.bd_seq
                ).order_by(KioskStateChange.id)
            )
        )
    assert [tuple(c) for c in changes] == [
        ("online", "birth", 1),
        ("offline", "will", 1),
        ("online", "birth", 2),
    ]


async def test_offline_from_an_unknown_kiosk_creates_nothing(cloud: Cloud) -> None:
    assert await apply(cloud, state("offline", 5, kiosk="ghost")) == "unknown_kiosk"
    async with transaction(cloud.app.state.sessions) as db:
        assert await db.scalar(select(func.count()).select_from(Kiosk)) == 0


def telemetry(seq: int, cpu: float) -> TelemetryMessage:
    return TelemetryMessage(
        kiosk_id="k1",
        sent_at=NOW,
        seq=seq,
        interval_s=10.0,
        host=HostHealth(
            cpu_percent=cpu,
            memory_percent=10,
            memory_used_bytes=1,
            disk_percent=10,
            disk_free_bytes=1,
            uptime_s=5,
        ),
    )


async def test_telemetry_keeps_the_newest_and_ignores_replays(cloud: Cloud) -> None:
    await apply(cloud, state("online", 1))
    async with transaction(cloud.app.state.sessions) as db:
        first = await service.apply_telemetry(db=db, message=telemetry(100, 20.0), received_at=NOW)
        assert first.newest and first.site_id == "city-hall"
        repeat = await service.apply_telemetry(db=db, message=telemetry(100, 99.0), received_at=NOW)
        older = await service.apply_telemetry(db=db, message=telemetry(99, 99.0), received_at=NOW)
        assert not repeat.newest and not older.newest
    row = await kiosk_row(cloud)
    assert row.host is not None and row.host["cpu_percent"] == 20.0


async def test_events_are_recorded_once_per_sequence_number(cloud: Cloud) -> None:
    event = EventMessage(
        kiosk_id="k1", sent_at=NOW, seq=7, name="card_inserted", peripheral="card_reader"
    )
    async with transaction(cloud.app.state.sessions) as db:
        assert await service.apply_event(db=db, message=event, received_at=NOW)
    async with transaction(cloud.app.state.sessions) as db:
        assert not await service.apply_event(db=db, message=event, received_at=NOW)
        assert await db.scalar(select(func.count()).select_from(KioskEvent)) == 1


async def test_kiosk_api_lists_and_finds_kiosks(cloud: Cloud) -> None:
    await apply(cloud, state("online", 3, kiosk="city-hall-02"))
    await apply(cloud, state("online", 4, kiosk="city-hall-01"))
    token = await cloud.token(Role.CITY)
    headers = {"Authorization": f"Bearer {token}"}
    listed = (await cloud.client.get("/api/kiosks", headers=headers)).json()
    assert [k["kiosk_id"] for k in listed] == ["city-hall-01", "city-hall-02"]
    # Times carry their zone on every database (SQLite keeps none by itself).
    assert datetime.fromisoformat(listed[0]["last_seen_at"]).utcoffset() is not None
    assert listed[0]["peripherals"][0] == {
        "name": "card_reader",
        "status": "ok",
        "simulated": True,
        "detail": None,
    }
    one = await cloud.client.get("/api/kiosks/city-hall-02", headers=headers)
    assert one.status_code == 200 and one.json()["bd_seq"] == 3
    missing = await cloud.client.get("/api/kiosks/nowhere", headers=headers)
    assert missing.status_code == 404 and "nowhere" in missing.json()["detail"]


async def test_health_summaries_keep_the_newest_in_one_batch(cloud: Cloud) -> None:
    from cloud.fleet.summaries import HealthSummaries

    await apply(cloud, state("online", 1, kiosk="k1"))
    await apply(cloud, state("online", 1, kiosk="k2"))
    summaries = HealthSummaries(cloud.app.state.sessions)
    await summaries.load_sites()
    assert summaries.site_of == {"k1": "city-hall", "k2": "city-hall"}
    summaries.offer(telemetry(10, 10.0), NOW)
    summaries.offer(telemetry(12, 12.0), NOW)
    summaries.offer(telemetry(11, 11.0), NOW)  # late: older than 12
    assert await summaries.flush() == 1
    assert (await kiosk_row(cloud)).host["cpu_percent"] == 12.0  # type: ignore[index]
    summaries.offer(telemetry(9, 99.0), NOW)  # older than what the registry holds
    await summaries.flush()
    row = await kiosk_row(cloud)
    assert row.host is not None and row.host["cpu_percent"] == 12.0
    assert row.last_telemetry_seq == 12
