# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Twenty generations at once, in-process: 20 operators submit concurrently and defer, 20 triggers poll
concurrently on one event loop through a 429 storm without ``Retry-After``, 5xx and dropped connections;
and a poll that hangs never blocks the loop the other triggers run on.

A 429 without ``Retry-After`` makes the hook wait ``RetryPolicy.rate_limit_backoff`` (Gamma's 30 s) and
the trigger pause the shared rate budget for as long; these tests use a 0.3 s policy so that path runs
for real in a short test (the DAG-level storm in test_survived_faults_dags.py uses ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.triggers import gamma as trigger_module
from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger
from tests.reliability.conftest import connection

GENERATIONS = "/v1.0/generations"
POLLS = f"{GENERATIONS}/"
SHORT = RetryPolicy(rate_limit_backoff=0.3, backoff=0.1, jitter=False)


class _TaskInstance:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def short_trigger_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trigger's policies (its hook's and its own) with the short backoffs of :data:`SHORT`."""
    monkeypatch.setattr(
        trigger_module,
        "RetryPolicy",
        functools.partial(RetryPolicy, rate_limit_backoff=0.3, backoff=0.1, jitter=False),
    )


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=1.0) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emulator, timeout=1))
        yield emulator


async def run_trigger(trigger: GammaGenerationTrigger, limit: float = 60) -> dict[str, Any]:
    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first_event(), limit)


@pytest.mark.usefixtures("short_trigger_policy")
async def test_twenty_operators_and_triggers_ride_out_429s_without_retry_after_5xx_and_drops(
    emu: GammaEmulator,
) -> None:
    post_storm = emu.add_fault(method="POST", path_prefix=GENERATIONS, status=429, times=5)
    poll_storm = emu.add_fault(method="GET", path_prefix=POLLS, status=429, times=30)
    bursts = [
        emu.add_fault(method="GET", path_prefix=POLLS, status=500, times=3),
        emu.add_fault(method="GET", path_prefix=POLLS, status=502, times=3),
        emu.add_fault(method="GET", path_prefix=POLLS, drop=True, times=3),
    ]
    operators = [
        GammaGenerateOperator(
            task_id=f"generate_{i:02d}",
            input_text=f"Deck {i:02d}",
            deferrable=True,
            poll_interval=0.2,
            first_poll_delay=0.2,
        )
        for i in range(20)
    ]
    contexts: list[dict[str, Any]] = [{"ti": _TaskInstance()} for _ in operators]

    def submit(op: GammaGenerateOperator, context: dict[str, Any]) -> GammaGenerationTrigger:
        op.hook.retry_policy = SHORT  # the worker's 429 wait, shortened like the trigger's
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(context)  # type: ignore[arg-type]
        trigger = deferred.value.trigger
        assert isinstance(trigger, GammaGenerationTrigger)
        return trigger

    began = time.monotonic()
    triggers = await asyncio.gather(
        *(asyncio.to_thread(submit, op, ctx) for op, ctx in zip(operators, contexts, strict=True))
    )
    events = await asyncio.gather(*(run_trigger(trigger) for trigger in triggers))
    results = [
        op.execute_complete(ctx, event)  # type: ignore[arg-type]
        for op, ctx, event in zip(operators, contexts, events, strict=True)
    ]
    elapsed = time.monotonic() - began

    assert [event["status"] for event in events] == ["success"] * 20
    assert all(result["status"] == "completed" for result in results)
    # One accepted POST per deck; the five 429'd ones were refused before Gamma did anything.
    post_statuses = [r.status for r in emu.requests if r.method == "POST"]
    assert sorted(post_statuses, key=str) == [200] * 20 + [429] * 5
    assert sorted(g.input for g in emu.generations.values()) == [f"Deck {i:02d}" for i in range(20)]
    assert {ctx["ti"].xcoms["generation_id"] for ctx in contexts} == set(emu.generations)
    assert post_storm.hits == 5
    assert poll_storm.hits == 30
    assert [rule.hits for rule in bursts] == [3, 3, 3]
    # The 429s carried no Retry-After, so the policy's backoff was used: every 429 paused the whole
    # shared budget, so no new poll left within 0.3 s of a 429 (answers already in flight aside).
    polls = sorted((r for r in emu.requests if r.method == "GET"), key=lambda r: r.time)
    rate_limited = [r.time for r in polls if r.status == 429]
    for at in rate_limited:
        soon_after = [r for r in polls if at + 0.05 < r.time < at + 0.25]
        assert soon_after == [], f"{len(soon_after)} polls went out during a 429 pause"
    assert elapsed < 40


@pytest.mark.usefixtures("short_trigger_policy")
async def test_a_hanging_poll_is_timed_out_and_never_blocks_the_other_triggers(emu: GammaEmulator) -> None:
    ids = [GammaHook().create_generation(f"Deck {i}") for i in range(10)]
    hung = ids[0]
    hang = emu.add_fault(method="GET", path_prefix=f"{POLLS}{hung}", delay=5.0, times=2)
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done: dict[str, float] = {}

    async def measure_lag() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)

    async def watch(generation_id: str) -> dict[str, Any]:
        trigger = GammaGenerationTrigger(
            generation_id, poll_interval=0.1, end_time=time.time() + 30, first_poll_delay=0.0
        )
        event = await run_trigger(trigger)
        done[generation_id] = time.monotonic()
        return event

    ticker = asyncio.ensure_future(measure_lag())
    began = time.monotonic()
    try:
        events = await asyncio.gather(*(watch(generation_id) for generation_id in ids))
    finally:
        ticker.cancel()

    assert [event["status"] for event in events] == ["success"] * 10
    assert hang.hits == 2
    # Each hung poll was cut by the connection's 1 s timeout: the next one went out long before the
    # emulator's 5 s answer would have come.
    hung_polls = [r for r in emu.requests if r.path == f"{POLLS}{hung}"]
    assert len(hung_polls) >= 3
    assert hung_polls[1].time - hung_polls[0].time < 2.0
    assert hung_polls[2].time - hung_polls[1].time < 2.0
    # Meanwhile the other nine were polled and finished, and the event loop never stalled.
    first_hang_at = hung_polls[0].time
    others_meanwhile = [
        r
        for r in emu.requests
        if r.path.startswith(POLLS) and hung not in r.path and first_hang_at < r.time < first_hang_at + 1
    ]
    assert len(others_meanwhile) >= 9
    assert max(done[i] for i in ids[1:]) < done[hung]
    assert max(done[i] for i in ids[1:]) - began < 2.5
    assert lags, "the lag probe never ran"
    assert max(lags) < 0.2, f"event loop stalled for {max(lags):.3f} s"
