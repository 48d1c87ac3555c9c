"""Training mode through the real database (SQLite and PostgreSQL): training calls go only to
operators in 研修モード and real calls never do; a training kiosk and its calls change no
count (monthly report, billing, uptime, `/api/calls`, routing statistics); only an
administrator flags a kiosk. And one scenario end to end with the real agent and broker:
`no_form` through the operator tools, then the network drop."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from cloud.auth.models import Role, StaffUser
from cloud.db.engine import transaction
from cloud.fleet import service as fleet
from cloud.reports.monthly import monthly_report
from cloud.reports.service import uptime_report
from cloud.routing import service
from cloud.routing.console import OperatorConsole
from cloud.routing.models import CallRecord, Outcome, Presence, Procedure
from madoguchi.training import SCENARIOS, LinkCut, run_scenario, training_kiosk_settings
from protocol.v1 import Peripheral, StateMessage
from protocol.v1.datachannel import KIOSK_EVENT, FormScan
from protocol.v1.forms import FormReadResult
from tests.cloud.conftest import Cloud, pause_background_routing
from tests.cloud.test_routing import STALE, T0, operator, request
from tests.edge.helpers import edge_settings
from tests.reports.test_monthly import SETTINGS, _fill_november, local
from tests.servers import Broker


async def register(cloud: Cloud, kiosk_id: str, at: datetime, *, status: str = "online") -> None:
    async with transaction(cloud.app.state.sessions) as db:
        await fleet.apply_state(
            db=db,
            message=StateMessage(
                kiosk_id=kiosk_id,
                sent_at=at,
                seq=1,
                status=status,  # type: ignore[arg-type]
                bd_seq=1,
                will=status == "offline",
                site_id="city-hall",
                agent_version="0.1.0",
                os_version="Debian 12",
                peripherals=(Peripheral(name="card_reader", status="ok", simulated=True),)
                if status == "online"
                else (),
            ),
            received_at=at,
        )


async def flag(cloud: Cloud, kiosk_id: str, *, role: Role = Role.ADMIN) -> int:
    token = await cloud.token(role)
    response = await cloud.client.put(
        f"/api/kiosks/{kiosk_id}/training",
        json={"training": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code == 200:
        assert response.json()["training"] is True
    return response.status_code


async def trainee(cloud: Cloud, name: str, *, at: datetime) -> StaffUser:
    """An operator whose console is in 研修モード and available."""
    user = await operator(cloud, name, available_at=None)
    async with transaction(cloud.app.state.sessions) as db:
        await service.set_training(db=db, user=user, enabled=True, now=at)
        await service.set_presence(db=db, user=user, status=Presence.AVAILABLE, now=at)
    return user


async def test_training_calls_ring_only_training_operators_and_real_calls_never(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    pause_background_routing(cloud, monkeypatch)
    router = cloud.app.state.router
    await register(cloud, "k-real", T0)
    await register(cloud, "k-train", T0)
    assert await flag(cloud, "k-train") == 200
    real_op = await operator(cloud, "op-real", available_at=T0 + timedelta(seconds=1))
    # The training call waits first, and only a real operator is there: nobody is rung.
    training_call = request("k-train", T0 + timedelta(seconds=2))
    await router.on_kiosk_message(training_call, T0 + timedelta(seconds=2))
    async with transaction(cloud.app.state.sessions) as db:
        assert await service.assign(db=db, now=T0 + timedelta(seconds=3), stale_after=STALE) == []
        with pytest.raises(service.RoutingError):  # nor can the real operator take it
            await service.accept(db=db, user=real_op, call_id=str(training_call.call_id), now=T0)
    learner = await trainee(cloud, "op-trainee", at=T0 + timedelta(seconds=4))
    real_call = request("k-real", T0 + timedelta(seconds=5))
    await router.on_kiosk_message(real_call, T0 + timedelta(seconds=5))
    async with transaction(cloud.app.state.sessions) as db:
        rings = await service.assign(db=db, now=T0 + timedelta(seconds=6), stale_after=STALE)
        calls = {c.call_id: c for c in await db.scalars(select(CallRecord))}
        # Each queue has its own positions; the support staff never see the training one.
        assert [w.call_id for w in await service.waiting_calls(db=db)] == [str(real_call.call_id)]
        assert [w.training for w in await service.waiting_calls(db=db, training=True)] == [True]
        assert (
            await service.staffed_operators(db=db, now=T0 + timedelta(seconds=6), stale_after=STALE)
            == 1
        )
    assert {(r.call_id, r.operator_id) for r in rings} == {
        (str(training_call.call_id), learner.id),
        (str(real_call.call_id), real_op.id),
    }
    assert calls[str(training_call.call_id)].training is True  # from the kiosk's flag
    assert calls[str(real_call.call_id)].training is False
    # Neither can take the other's call, even one still waiting in the queue.
    async with transaction(cloud.app.state.sessions) as db:
        await service.set_presence(db=db, user=real_op, status=Presence.AWAY, now=T0)
        await service.set_presence(db=db, user=real_op, status=Presence.AVAILABLE, now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        with pytest.raises(service.RoutingError):
            await service.accept(db=db, user=real_op, call_id=str(training_call.call_id), now=T0)
    async with transaction(cloud.app.state.sessions) as db:
        await service.accept(db=db, user=learner, call_id=str(training_call.call_id), now=T0)
        # 研修モード cannot be switched off in the middle of a call.
        with pytest.raises(service.RoutingError):
            await service.set_training(db=db, user=learner, enabled=False, now=T0)
    # The console's state says 研修 on the call and in the mode.
    async with transaction(cloud.app.state.sessions) as db:
        snapshot = await OperatorConsole(
            websocket=None,  # type: ignore[arg-type]
            user=learner,
            sessions=cloud.app.state.sessions,
            router=router,
        ).snapshot(db)
    assert snapshot["training"] is True and snapshot["call"]["training"] is True
    # Signing out leaves training mode: the next session starts taking real calls.
    async with transaction(cloud.app.state.sessions) as db:
        await service.sign_out(db=db, user=learner, now=T0 + timedelta(seconds=9))
        presence = await service.presence_of(db=db, user_id=learner.id)
        assert presence is not None and presence.training is False


async def test_only_an_administrator_marks_a_training_kiosk(cloud: Cloud) -> None:
    await register(cloud, "k-roles", T0)
    for role in (Role.OPERATOR, Role.SUPPORT, Role.CITY, Role.TECH):
        assert await flag(cloud, "k-roles", role=role) == 403
    assert await flag(cloud, "k-unknown") == 404
    assert await flag(cloud, "k-roles") == 200
    token = await cloud.token(Role.CITY)
    listed = await cloud.client.get("/api/kiosks", headers={"Authorization": f"Bearer {token}"})
    assert {k["kiosk_id"]: k["training"] for k in listed.json()} == {"k-roles": True}
    audit_actions = []
    async with transaction(cloud.app.state.sessions) as db:
        from cloud.audit.models import AuditEntry

        audit_actions = list(await db.scalars(select(AuditEntry.action)))
    assert "kiosk.training_on" in audit_actions


async def _counts(cloud: Cloud) -> dict[str, object]:
    """Every figure a training call or kiosk could wrongly change."""
    now = local(date(2026, 12, 1), 9)
    async with transaction(cloud.app.state.sessions) as db:
        report = await monthly_report(
            db=db, site_id="city-hall", month="2026-11", billing=SETTINGS, now=now
        )
        uptime = await uptime_report(
            db=db, site_id="city-hall", start=date(2026, 11, 1), end=date(2026, 11, 30), now=now
        )
        handle = await service.average_handle_time_s(db=db)
        staffed = await service.staffed_operators(db=db, now=now, stale_after=timedelta(days=60))
    token = await cloud.token(Role.CITY)
    listed = await cloud.client.get(
        "/api/calls", params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200
    return {
        "days": report.days,
        "by_procedure": report.by_procedure,
        "online_total": report.online_total,
        "support_total": report.support_total,
        "report_uptime": report.uptime,
        "bill": report.bill.as_json(),
        "uptime": uptime,
        "handle_time": handle,
        "staffed": staffed,
        "calls": sorted(c["call_id"] for c in listed.json()),
    }


async def test_a_training_kiosk_and_its_calls_change_no_count(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    pause_background_routing(cloud, monkeypatch)
    await _fill_november(cloud)
    before = await _counts(cloud)
    assert before["online_total"] == 4 and before["calls"]  # the real month is there
    # A training kiosk at the same site, online then dropped mid-month, with three calls a
    # trainee took in November (one on a day nobody else called).
    await register(cloud, "training-01", local(date(2026, 10, 31), 8))
    assert await flag(cloud, "training-01") == 200
    learner = await trainee(cloud, "op-learner", at=local(date(2026, 11, 2), 8))
    router = cloud.app.state.router
    for day, hour in ((date(2026, 11, 2), 14), (date(2026, 11, 2), 15), (date(2026, 11, 6), 10)):
        message = request("training-01", local(day, hour))
        await router.on_kiosk_message(message, local(day, hour))
        call_id = str(message.call_id)
        async with transaction(cloud.app.state.sessions) as db:
            await service.accept(db=db, user=learner, call_id=call_id, now=local(day, hour, 1))
            await service.hang_up(db=db, user=learner, call_id=call_id, now=local(day, hour, 30))
            await service.record_outcome(
                db=db,
                user=learner,
                call_id=call_id,
                procedure=Procedure.NEW_CARD,
                outcome=Outcome.COMPLETED,
                reason=None,
                now=local(day, hour, 31),
            )
    await register(cloud, "training-01", local(date(2026, 11, 12), 11), status="offline")
    after = await _counts(cloud)
    assert after == before
    # The training calls are there, listed on their own.
    token = await cloud.token(Role.ADMIN)
    training = await cloud.client.get(
        "/api/calls", params={"training": "true"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert len(training.json()) == 3 and all(c["training"] for c in training.json())


# --- a scenario end to end: the real agent, broker and control plane ---------------------------


class Console:
    def __init__(self) -> None:
        self.events: list[BaseModel] = []
        self.arrived = asyncio.Event()

    def send(self, event: BaseModel) -> None:
        self.events.append(KIOSK_EVENT.validate_json(event.model_dump_json()))
        self.arrived.set()


async def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.1)


async def test_no_form_then_network_drop_with_the_real_agent(
    broker_cloud: Cloud, broker: Broker, tmp_path: Path
) -> None:
    from edge.agent import KioskAgent

    cloud = broker_cloud
    sessions = cloud.app.state.sessions
    now = datetime.now(UTC)
    real_op = await operator(cloud, "op-real-e2e", available_at=now)
    learner = await trainee(cloud, "op-trainee-e2e", at=now)
    admin = await cloud.token(Role.ADMIN)

    async def mark(kiosk_id: str) -> bool:
        response = await cloud.client.put(
            f"/api/kiosks/{kiosk_id}/training",
            json={"training": True},
            headers={"Authorization": f"Bearer {admin}"},
        )
        return response.status_code == 200

    kiosk_id = f"training-{uuid.uuid4().hex[:6]}"
    link = LinkCut(broker.host, broker.port)
    await link.start()
    chosen = replace(SCENARIOS["no_form"], cut_link_after_s=None)
    settings = training_kiosk_settings(
        edge_settings(broker, kiosk_id, tmp_path / "kiosk"),
        chosen,
        tmp_path / "pictures",
        broker_port=link.port,
    )
    agent = KioskAgent(settings)
    running = asyncio.create_task(agent.run())
    try:
        await run_scenario(agent, chosen, mark_training=mark, timeout_s=20)

        async def rung() -> bool:
            async with transaction(sessions) as db:
                call = await db.scalar(select(CallRecord).where(CallRecord.kiosk_id == kiosk_id))
                return call is not None and call.state == "ringing"

        await _wait_for(rung)
        async with transaction(sessions) as db:
            call = await db.scalar(select(CallRecord).where(CallRecord.kiosk_id == kiosk_id))
            assert call is not None and call.training and call.operator_id == learner.id
            real = await service.presence_of(db=db, user_id=real_op.id)
            assert real is not None and real.status == Presence.AVAILABLE  # never rung
            call_id = call.call_id
            await service.accept(db=db, user=learner, call_id=call_id, now=datetime.now(UTC))
        await cloud.app.state.router.publisher.send(
            kiosk_id, call_id, "assigned", operator_display_name="研修", ice_servers=[]
        )

        async def offered() -> bool:
            async with transaction(sessions) as db:
                record = await db.get(CallRecord, call_id)
                return record is not None and record.kiosk_offer is not None

        await _wait_for(offered)
        # The operator's 申請書を読み取る, through the agent's own tools: no code on the sheet.
        console = Console()
        await agent.tools.attach(
            send=console.send, camera=None, screen=None, indicators=lambda *_: None
        )
        assert await agent.tools.handle(FormScan()) is None
        async with asyncio.timeout(20):
            while not any(isinstance(e, FormReadResult) for e in console.events):
                console.arrived.clear()
                await console.arrived.wait()
        result = next(e for e in console.events if isinstance(e, FormReadResult))
        assert isinstance(result, FormReadResult) and result.error == "no_code"
        # The network drop: the link is cut and the media ends; the console sees the call
        # end with the kiosk's link gone.
        link.cut()
        await agent.calls.media_lost()

        async def ended() -> bool:
            async with transaction(sessions) as db:
                record = await db.get(CallRecord, call_id, populate_existing=True)
                return record is not None and record.state == "ended"

        await _wait_for(ended)
        async with transaction(sessions) as db:
            snapshot = await OperatorConsole(
                websocket=None,  # type: ignore[arg-type]
                user=learner,
                sessions=sessions,
                router=cloud.app.state.router,
            ).snapshot(db)
        assert snapshot["call"]["end_reason"] == "kiosk_offline"
        assert snapshot["call"]["training"] is True and snapshot["call"]["needs_outcome"]
        assert agent.calls.view.end_reason == "media_failed"
        link.restore()
        await asyncio.wait_for(agent.link.connected.wait(), 20)  # back after the drop
    finally:
        agent.stop()
        await asyncio.wait_for(running, 15)
        await link.close()
