# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Faults the provider must survive, inside real Airflow (``airflow dags test``): every task succeeds in
its first try (or re-attaches in its retry) and Gamma sees exactly one POST per intended deck."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.testing.faults import FaultRule
from tests.reliability.conftest import (
    DagRunResult,
    connection,
    has_task_state_store,
    run_dag,
    watching,
)

GENERATIONS = "/v1.0/generations"
POLLS = f"{GENERATIONS}/"

pytestmark = pytest.mark.usefixtures("airflow_home")


def posts(emu: GammaEmulator) -> list[int | None]:
    """Statuses of the generation POSTs the emulator received."""
    return [r.status for r in emu.requests if r.method == "POST" and r.path == GENERATIONS]


def assert_green(result: DagRunResult) -> None:
    assert result.returncode == 0, result.output[-4000:]
    assert set(result.states().values()) == {"success"}, result.states()


def test_mapped_deferred_generations_ride_out_a_429_storm_5xx_and_drops(
    airflow_home: Path, emulator: GammaEmulator
) -> None:
    """Ten mapped generate tasks under `airflow dags test` (which runs their triggers one after another;
    twenty truly concurrent ones are in test_concurrency.py)."""
    emulator.add_fault(method="POST", path_prefix=GENERATIONS, status=429, retry_after=0.2, times=3)
    storm = emulator.add_fault(method="GET", path_prefix=POLLS, status=429, retry_after=0.2, times=20)
    # One 500, one 502 and one dropped connection for the polls of decks 3, 6 and 9: the triggers run
    # one after another, so a burst armed at once would all hit the same trigger.
    bursts: list[FaultRule] = []
    plan: list[tuple[int, dict[str, Any]]] = [
        (3, {"status": 500}),
        (6, {"status": 502}),
        (9, {"drop": True}),
    ]

    def arm_bursts() -> None:
        while plan and emulator.post_count() >= plan[0][0]:
            _, fault = plan.pop(0)
            bursts.append(emulator.add_fault(method="GET", path_prefix=POLLS, **fault))

    with watching(arm_bursts):
        result = run_dag(airflow_home, "rel_storm", {"AIRFLOW_CONN_GAMMA_DEFAULT": connection(emulator)})

    assert_green(result)
    assert len(result.tis) == 10
    assert {ti["try_number"] for ti in result.tis.values()} == {1}, "a fault leaked into an Airflow retry"
    # Exactly one accepted POST per deck; the three 429'd POSTs were refused by Gamma before any work.
    assert sorted(posts(emulator), key=str) == [200] * 10 + [429] * 3
    generations = list(emulator.generations.values())
    assert len(generations) == 10
    assert sorted(g.input for g in generations) == [
        f"Regional deck {i:02d}: figures for region {i:02d}" for i in range(10)
    ]
    assert all(g.status == "completed" for g in generations)
    assert storm.hits == 20
    assert [rule.hits for rule in bursts] == [1, 1, 1]
    # Retry-After was honoured: no poll of a generation came sooner than 0.2 s after its 429.
    polls = [r for r in emulator.requests if r.method == "GET" and r.path.startswith(POLLS)]
    for earlier, later in itertools.pairwise(polls):
        if earlier.status == 429 and later.path == earlier.path:
            assert later.time - earlier.time >= 0.19


def test_a_hanging_poll_is_cut_by_the_connection_timeout_and_polled_again(
    airflow_home: Path, emulator: GammaEmulator
) -> None:
    hangs: dict[str, FaultRule] = {}

    def hang_first_poll_of_each_generation() -> None:
        for generation_id in emulator.generations:
            if generation_id not in hangs:
                path = f"{POLLS}{generation_id}"
                hangs[generation_id] = emulator.add_fault(method="GET", path_prefix=path, delay=4.0)

    with watching(hang_first_poll_of_each_generation, every=0.01):
        result = run_dag(
            airflow_home, "rel_read_hang", {"AIRFLOW_CONN_GAMMA_HANG": connection(emulator, timeout=1)}
        )

    assert_green(result)
    assert {ti["try_number"] for ti in result.tis.values()} == {1}
    assert posts(emulator) == [200, 200]
    assert [rule.hits for rule in hangs.values()] == [1, 1]  # the trigger's poll and the worker's poll
    for generation_id in emulator.generations:
        polls = [r for r in emulator.requests if r.path == f"{POLLS}{generation_id}"]
        assert len(polls) >= 2
        assert polls[-1].status == 200
        # The next poll went out about a timeout (1 s) after the hung one, not after its 4 s answer.
        assert polls[1].time - polls[0].time < 4.0
    assert "ReadTimeout" in result.output  # the worker's requests
    assert "TimeoutError" in result.output  # the trigger's aiohttp


def test_retries_reattach_instead_of_paying_again(airflow_home: Path, emulator: GammaEmulator) -> None:
    """A retry after the wait timed out, after a crash while waiting, after a crash once completed,
    and after a failed generation with ``resubmit_failed=True``."""
    store = has_task_state_store()

    def by_input(prefix: str) -> list[str]:
        return [g.generation_id for g in emulator.generations.values() if g.input.startswith(prefix)]

    def drive() -> None:
        resubmitted = by_input("Resubmit me")
        if len(resubmitted) == 1 and emulator.generations[resubmitted[0]].status == "pending":
            emulator.fail_generation(resubmitted[0], message="Image model overloaded")
        slow = by_input("Quarterly review")
        if len(slow) == 2 and emulator.generations[slow[1]].status == "pending":
            emulator.complete_generation(slow[1])  # Airflow < 3.3: let the second deck finish in time

    with watching(drive):
        result = run_dag(airflow_home, "rel_retries", {"AIRFLOW_CONN_GAMMA_DEFAULT": connection(emulator)})

    assert_green(result)
    assert {task: ti["try_number"] for (task, _), ti in result.tis.items()} == {
        "timeout": 2,
        "crash_while_waiting": 2,
        "crash_after_completion": 2,
        "resubmit_failed": 2,
    }
    assert "was still pending at the deadline" in result.output
    assert "simulated worker crash while waiting" in result.output
    assert "simulated worker crash after the generation completed" in result.output
    assert "Image model overloaded" in result.output
    assert "a retry will submit a new generation: resubmit_failed=True" in result.output
    counts = {
        prefix: len(by_input(prefix)) for prefix in ("Quarterly", "Crash while", "Crash after", "Resubmit")
    }
    if store:
        # Airflow >= 3.3: the retries found their generation in the task state store.
        assert counts == {"Quarterly": 1, "Crash while": 1, "Crash after": 1, "Resubmit": 2}
        assert result.output.count("started by an earlier try") == 3
        assert "failed; submitting a new one" in result.output
    else:
        # Airflow < 3.3, as the README documents: every retry starts (and pays for) a new generation.
        assert counts == {"Quarterly": 2, "Crash while": 2, "Crash after": 2, "Resubmit": 2}
    assert posts(emulator) == [200] * sum(counts.values())
    resubmits = sorted(emulator.generations[i].status for i in by_input("Resubmit"))
    assert resubmits == ["completed", "failed"]


def test_export_lands_whole_through_expiry_5xx_drops_truncation_and_a_slow_host(
    airflow_home: Path, tmp_path: Path
) -> None:
    with GammaEmulator(generation_seconds=0.3, export_url_ttl=3.0) as emu:
        faults = [
            emu.add_fault(host="export", status=502, times=1),
            emu.add_fault(host="export", drop=True, times=1),
            emu.add_fault(host="export", truncate_at=200, times=1),
            emu.add_fault(host="export", status=500, times=1),
        ]
        slow = emu.add_fault(host="export", delay=2.0, times=1)

        result = run_dag(
            airflow_home,
            "rel_export_faults",
            {
                "AIRFLOW_CONN_GAMMA_DEFAULT": connection(emu),
                "RELIABILITY_DEST": f"{tmp_path.as_uri()}/",
            },
        )

        assert_green(result)
        assert {ti["try_number"] for ti in result.tis.values()} == {1}
        assert posts(emu) == [200]
        [generation_id] = emu.generations
        assert (tmp_path / "deck.pdf").read_bytes() == emu.export_bytes(generation_id)
        assert [f.hits for f in faults] == [1, 1, 1, 1]
        assert slow.hits == 1
        downloads = emu.export_requests
        statuses = [r.status for r in downloads]
        # 502, dropped, truncated (200 headers), 500, backing off in between; then the slow answer is a
        # 403 (the 3 s URL expired meanwhile), so a fresh URL was fetched from Gamma and downloaded.
        assert 403 in statuses
        assert statuses[-1] == 200
        assert len({r.query["signature"] for r in downloads}) == 2
        for request in downloads:
            assert "x-api-key" not in request.headers
            assert "authorization" not in request.headers
        assert "fetching a fresh one" in result.output
        assert not [p for p in tmp_path.iterdir() if p.name != "deck.pdf"], "a partial file was left behind"


def test_uncertain_posts_are_settled_by_reference_and_the_decks_land(
    airflow_home: Path, emulator: GammaEmulator, tmp_path: Path
) -> None:
    """Before: each generate task failed with GammaSubmissionUncertainError and no deck was landed."""
    emulator.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True, times=2)

    result = run_dag(
        airflow_home,
        "rel_uncertain_post",
        {"AIRFLOW_CONN_GAMMA_DEFAULT": connection(emulator), "RELIABILITY_DEST": f"{tmp_path.as_uri()}/"},
    )

    assert_green(result)
    assert {ti["try_number"] for ti in result.tis.values()} == {1}
    assert posts(emulator) == [502, 502]
    assert sorted(g.input for g in emulator.generations.values()) == [
        "Weekly figures (deferred)",
        "Weekly figures (in_worker)",
    ]
    for generation in emulator.generations.values():
        mode = "deferred" if "deferred" in generation.input else "in_worker"
        assert (tmp_path / f"{mode}.pdf").read_bytes() == emulator.export_bytes(generation.generation_id)
    assert result.output.count("Found the deck of the uncertain POST by its reference") == 2
