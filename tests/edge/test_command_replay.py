"""The kiosk checks every command against its own identity, expiry and a replay window; a
command id already answered is answered from memory, never run twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from edge.commands import CLOCK_SKEW, REPLAY_WINDOW, CommandOutcome, CommandRouter
from protocol.v1 import CommandMessage

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _command(
    *,
    kiosk_id: str = "k1",
    sent_at: datetime = NOW,
    expires_at: datetime | None = None,
    command_id: uuid.UUID | None = None,
) -> CommandMessage:
    return CommandMessage(
        kiosk_id=kiosk_id,
        sent_at=sent_at,
        seq=1,
        command_id=command_id or uuid.uuid4(),
        name="self_test",
        issued_by="tech",
        expires_at=expires_at or sent_at + timedelta(minutes=5),
    )


def _router() -> tuple[CommandRouter, list[uuid.UUID]]:
    router = CommandRouter(kiosk_id="k1")
    runs: list[uuid.UUID] = []

    @router.on("self_test")
    async def self_test(command: CommandMessage) -> CommandOutcome:
        runs.append(command.command_id)
        return CommandOutcome("succeeded", "ran")

    return router, runs


async def test_a_command_for_another_kiosk_is_refused_and_not_remembered() -> None:
    router, runs = _router()
    shared_id = uuid.uuid4()
    refused = await router.handle(_command(kiosk_id="k2", command_id=shared_id), now=NOW)
    assert refused.status == "rejected" and "another kiosk" in refused.detail
    # The same id, genuinely for this kiosk, still runs: the refusal shadowed nothing.
    assert (await router.handle(_command(command_id=shared_id), now=NOW)).status == "succeeded"
    assert runs == [shared_id]


async def test_an_expired_command_does_not_run() -> None:
    router, runs = _router()
    command = _command(sent_at=NOW - timedelta(minutes=2), expires_at=NOW - timedelta(seconds=1))
    assert (await router.handle(command, now=NOW)).status == "expired"
    assert runs == []


async def test_a_command_sent_before_the_replay_window_is_refused_even_if_unexpired() -> None:
    router, runs = _router()
    old = _command(
        sent_at=NOW - REPLAY_WINDOW - timedelta(seconds=1), expires_at=NOW + timedelta(hours=2)
    )
    outcome = await router.handle(old, now=NOW)
    assert outcome.status == "expired" and "replay window" in outcome.detail
    edge = _command(sent_at=NOW - REPLAY_WINDOW + timedelta(seconds=1))
    edge = edge.model_copy(update={"expires_at": NOW + timedelta(minutes=5)})
    assert (await router.handle(edge, now=NOW)).status == "succeeded"
    assert runs == [edge.command_id]


async def test_a_command_from_the_future_beyond_clock_skew_is_refused() -> None:
    router, runs = _router()
    future = _command(sent_at=NOW + CLOCK_SKEW + timedelta(seconds=5))
    outcome = await router.handle(future, now=NOW)
    assert outcome.status == "rejected" and "future" in outcome.detail
    within = _command(sent_at=NOW + CLOCK_SKEW - timedelta(seconds=5))
    assert (await router.handle(within, now=NOW)).status == "succeeded"
    assert runs == [within.command_id]


async def test_a_replayed_command_id_is_answered_from_memory_not_rerun() -> None:
    router, runs = _router()
    command = _command()
    first = await router.handle(command, now=NOW)
    # Replayed within the window (a redelivery, or someone repeating a captured message).
    again = await router.handle(command, now=NOW + timedelta(minutes=3))
    assert again == first and runs == [command.command_id]
    # Replayed after the window: too old, whether remembered or not; never run again.
    late = await router.handle(command, now=NOW + REPLAY_WINDOW + timedelta(minutes=1))
    assert late.status == "expired" and runs == [command.command_id]


async def test_memory_is_kept_as_long_as_the_window_and_then_released() -> None:
    router = CommandRouter(kiosk_id="k1", replay_window=timedelta(minutes=10), remember=1000)

    @router.on("self_test")
    async def self_test(_command: CommandMessage) -> CommandOutcome:
        return CommandOutcome("succeeded")

    for minute in range(30):
        at = NOW + timedelta(minutes=minute)
        await router.handle(_command(sent_at=at), now=at)
    # Only the commands still inside the window (or unexpired) are remembered.
    assert len(router._answered) <= 11


async def test_a_refusal_is_remembered_too() -> None:
    router, runs = _router()
    command = _command(sent_at=NOW + timedelta(minutes=10))  # from the future
    assert (await router.handle(command, now=NOW)).status == "rejected"
    # When its time comes, the same id is answered from memory, not run.
    assert (await router.handle(command, now=NOW + timedelta(minutes=10))).status == "rejected"
    assert runs == []
