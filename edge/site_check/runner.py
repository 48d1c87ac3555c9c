"""Run every item of the connection test concurrently, each within its own timeout.

One exception to "concurrently": the probe's items run one after the other (round trips and
the clock first, then throughput), because megabytes in flight would fill the site link's
buffers and inflate the round trip being measured beside them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, get_args

import structlog

from edge.site_check import broker, clock, network, turn
from edge.site_check.items import failed
from edge.site_check.peripherals import peripheral_items
from edge.site_check.plan import SiteCheckPlan
from edge.site_check.probe import ProbeClient, ProbeError, ProbeSample
from edge.site_check.settings import SiteCheckLimits
from protocol.v1 import Peripheral, SiteCheckItem
from protocol.v1.messages import SiteCheckName

log = structlog.get_logger("edge.site_check")

SelfTest = Callable[[], Awaitable[Sequence[Peripheral]]]
ORDER: tuple[SiteCheckName, ...] = get_args(SiteCheckName)


async def _within(
    names: Sequence[SiteCheckName],
    work: Coroutine[Any, Any, list[SiteCheckItem]],
    timeout_s: float,
) -> list[SiteCheckItem]:
    """The items `work` measures, or each of `names` failed when it overruns or breaks."""
    try:
        async with asyncio.timeout(timeout_s):
            return await work
    except TimeoutError:
        return [failed(name, f"no result within {timeout_s:g} s") for name in names]
    except Exception as exc:
        # Any bug or surprise is a failed item, never a lost report.
        log.exception("site_check_item_failed", items=list(names))
        return [failed(name, f"{type(exc).__name__}: {exc}") for name in names]


async def _probe_items(plan: SiteCheckPlan, limits: SiteCheckLimits) -> list[SiteCheckItem]:
    os_sync = asyncio.create_task(clock.os_ntp_synchronized())
    try:
        return await _probe_sequence(plan, limits, os_sync)
    finally:
        os_sync.cancel()


async def _probe_sequence(
    plan: SiteCheckPlan, limits: SiteCheckLimits, os_sync: asyncio.Task[str]
) -> list[SiteCheckItem]:
    rtt_name, tp_name = network.RTT, network.THROUGHPUT
    if plan.probe_url is None or plan.probe_token is None:
        why = "no probe URL and token were given (the control plane issues them with a check)"
        return [
            failed(rtt_name, why, unit="ms", limit=limits.rtt_max_ms),
            failed(tp_name, why, unit="Mbit/s", limit=limits.throughput_min_mbit_s),
            clock.clock_item([], limit_s=limits.clock_max_offset_s, os_sync=await os_sync),
        ]
    timeout = limits.item_timeout_s
    async with ProbeClient(
        plan.probe_url,
        token=plan.probe_token,
        kiosk_id=plan.kiosk_id,
        timeout_s=timeout,
        ca_file=limits.probe_ca_file,
    ) as probe:
        samples: list[ProbeSample] = []
        rtt: SiteCheckItem
        try:
            async with asyncio.timeout(timeout):
                samples = await network.round_trips(probe, limits.rtt_samples)
            rtt = network.rtt_item(samples, limit_ms=limits.rtt_max_ms, host=probe.host)
        except ProbeError as exc:
            rtt = failed(rtt_name, str(exc), unit="ms", limit=limits.rtt_max_ms)
        except TimeoutError:
            rtt = failed(
                rtt_name, f"no result within {timeout:g} s", unit="ms", limit=limits.rtt_max_ms
            )
        clock_result = clock.clock_item(
            samples, limit_s=limits.clock_max_offset_s, os_sync=await os_sync
        )
        throughput = (
            await _within(
                [tp_name],
                _one(
                    network.throughput_item(
                        probe,
                        size=limits.throughput_bytes,
                        limit_mbit_s=limits.throughput_min_mbit_s,
                    )
                ),
                timeout,
            )
        )[0]
    if not samples and rtt.detail:
        clock_result = clock_result.model_copy(
            update={"detail": (rtt.detail + "; " + clock_result.detail)[:200]}
        )
    return [rtt, throughput, clock_result]


async def _one(work: Awaitable[SiteCheckItem]) -> list[SiteCheckItem]:
    return [await work]


async def _peripherals(plan: SiteCheckPlan, self_test: SelfTest) -> list[SiteCheckItem]:
    return peripheral_items(plan.peripherals, await self_test())


async def run_site_check(
    plan: SiteCheckPlan, *, limits: SiteCheckLimits, self_test: SelfTest
) -> tuple[SiteCheckItem, ...]:
    """Every item, in the contract's order."""
    timeout = limits.item_timeout_s
    started = time.perf_counter()
    groups = await asyncio.gather(
        _within(
            ["broker_tls"],
            _one(
                broker.check_broker_tls(
                    plan.broker, limit_ms=limits.broker_tls_max_ms, timeout_s=timeout
                )
            ),
            timeout,
        ),
        _within(
            ["turn"],
            _one(
                turn.check_turn(
                    plan.turn_urls,
                    username=plan.turn_username,
                    credential=plan.turn_credential,
                    limit_ms=limits.turn_max_ms,
                    timeout_s=timeout,
                    ca_file=limits.turn_ca_file,
                )
            ),
            timeout,
        ),
        # The probe's three items each have their own timeout inside.
        _within(
            ["control_plane_rtt", "control_plane_throughput", "clock"],
            _probe_items(plan, limits),
            3 * timeout,
        ),
        _within(plan.peripherals, _peripherals(plan, self_test), timeout),
    )
    items = {item.name: item for group in groups for item in group}
    ordered = tuple(items[name] for name in ORDER if name in items)
    log.info(
        "site_check_finished",
        passed=all(item.passed for item in ordered),
        failing=[item.name for item in ordered if not item.passed],
        wall_s=round(time.perf_counter() - started, 2),
    )
    return ordered
