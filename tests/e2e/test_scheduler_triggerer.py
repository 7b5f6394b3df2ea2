# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaGenerateOperator(deferrable=True) under a real scheduler, triggerer and LocalExecutor.

Unlike ``dag.test()``, which runs the trigger inline, here the task really goes through the triggerer:
the trigger is serialized into the metadata DB, run by the triggerer process, and the task resumes on
a worker from the trigger's event. The second test kills the triggerer mid-poll (SIGKILL to all of its
processes) and checks that a new triggerer finishes the same generation without a second POST.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.emulator import GammaEmulator
from airflow_provider_gamma.testing.state import RecordedRequest
from tests.airflow_cluster import AirflowCluster

pytestmark = pytest.mark.e2e

DAG_ID = "gamma_e2e_deferrable"
TASK_ID = "generate"
GENERATIONS = "/v1.0/generations"
#: The quiet period of a found deck in the DAG (its ``reconcile_window``).
QUIET = 15.0


def posts_for(emulator: GammaEmulator, run_id: str) -> list[RecordedRequest]:
    """The generation POSTs of one DAG run (the DAG puts the run id into ``inputText``)."""
    return [
        request
        for request in emulator.requests
        if request.method == "POST"
        and request.path == GENERATIONS
        and run_id in str((request.json or {}).get("inputText", ""))
    ]


def polls_of(emulator: GammaEmulator, generation_id: str) -> list[RecordedRequest]:
    """The status polls (``GET /v1.0/generations/<id>``) of one generation."""
    return [
        request
        for request in emulator.requests
        if request.method == "GET" and request.path == f"{GENERATIONS}/{generation_id}"
    ]


def wait_for_polls(emulator: GammaEmulator, generation_id: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(polls_of(emulator, generation_id)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} polls of {generation_id} in {timeout} s"
        time.sleep(0.1)


def test_deferred_in_the_triggerer_then_success(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator
) -> None:
    posts_before = e2e_emulator.post_count()

    run_id = airflow_cluster.trigger_dag(DAG_ID)
    seen = airflow_cluster.wait_for_task_state(DAG_ID, run_id, TASK_ID, "success", timeout=90)

    assert "deferred" in seen, seen
    assert seen.index("deferred") < seen.index("success"), seen
    assert airflow_cluster.wait_for_dag_run(DAG_ID, run_id, timeout=30) == "success"

    generation_id = airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "generation_id")
    generation = e2e_emulator.generations[generation_id]
    assert generation.status == "completed"
    assert generation.gamma_url
    assert airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "gamma_url") == generation.gamma_url
    assert airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "_link_GammaGenerationLink") == generation.gamma_url

    assert len(posts_for(e2e_emulator, run_id)) == 1
    assert e2e_emulator.post_count() - posts_before == 1
    # The polls came from the trigger (the operator itself only POSTs before deferring).
    assert polls_of(e2e_emulator, generation_id)
    assert airflow_cluster.task_instance(DAG_ID, run_id, TASK_ID)["try_number"] == 1


def test_triggerer_killed_mid_poll_new_triggerer_finishes_the_same_generation(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator
) -> None:
    posts_before = e2e_emulator.post_count()
    # A longer generation, so that it is still pending when the replacement triggerer takes over.
    generation_seconds = 25.0
    run_id = airflow_cluster.trigger_dag(
        DAG_ID, conf={"marker": f"[[emulator:seconds={generation_seconds}]]"}
    )

    airflow_cluster.wait_for_task_state(DAG_ID, run_id, TASK_ID, "deferred", timeout=60)
    generation_id = airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "generation_id")
    wait_for_polls(e2e_emulator, generation_id, 2, timeout=30)  # the triggerer is polling it

    old_pid = airflow_cluster.pid("triggerer")
    airflow_cluster.kill("triggerer", signal.SIGKILL)
    killed_at = time.time()
    assert airflow_cluster.task_state(DAG_ID, run_id, TASK_ID) == "deferred"

    # With its whole process tree gone nothing polls any more (a surviving trigger runner would,
    # every second).
    time.sleep(3)
    assert [p for p in polls_of(e2e_emulator, generation_id) if p.time > killed_at + 0.5] == []

    restarted_at = time.time()
    new_pid = airflow_cluster.restart("triggerer")
    assert new_pid != old_pid
    seen = airflow_cluster.wait_for_task_state(DAG_ID, run_id, TASK_ID, "success", timeout=90)
    assert airflow_cluster.wait_for_dag_run(DAG_ID, run_id, timeout=30) == "success"

    # The new triggerer picked the trigger up and polled the same generation while it was pending.
    generation = e2e_emulator.generations[generation_id]
    new_polls = [p for p in polls_of(e2e_emulator, generation_id) if p.time > restarted_at]
    assert new_polls, "the new triggerer never polled the generation"
    assert new_polls[0].time < generation.created_at + generation_seconds, (
        "the generation was already complete when the new triggerer first polled it"
    )
    assert generation.status == "completed"
    assert airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "gamma_url") == generation.gamma_url
    assert airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "_link_GammaGenerationLink") == generation.gamma_url

    # Still exactly one POST: the task was resumed from the trigger, not re-run.
    assert len(posts_for(e2e_emulator, run_id)) == 1
    assert e2e_emulator.post_count() - posts_before == 1
    assert airflow_cluster.task_instance(DAG_ID, run_id, TASK_ID)["try_number"] == 1
    assert "failed" not in seen, seen
    assert "up_for_retry" not in seen, seen


def wait_for_try(cluster: AirflowCluster, run_id: str, try_number: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ti = cluster.task_instance(DAG_ID, run_id, TASK_ID)
        if ti["try_number"] >= try_number and ti["state"] == "success":
            return
        assert ti["state"] != "failed", ti
        assert time.monotonic() < deadline, f"try {try_number} did not succeed in {timeout} s: {ti}"
        time.sleep(0.3)


def test_clearing_a_succeeded_task_makes_a_new_deck(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator
) -> None:
    """Before (Airflow 3.3): the task state store still held the id, and the cleared task returned
    last run's deck without a POST."""
    run_id = airflow_cluster.trigger_dag(DAG_ID)
    airflow_cluster.wait_for_task_state(DAG_ID, run_id, TASK_ID, "success", timeout=90)
    # Clear only once the scheduler has finished the run: a clear racing its "run succeeded" write
    # is overwritten by it, and the cleared task is never scheduled (seen on SQLite).
    assert airflow_cluster.wait_for_dag_run(DAG_ID, run_id, timeout=30) == "success"
    first_id = airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "generation_id")

    airflow_cluster.api(
        "POST",
        f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        json_body={"dry_run": False, "dag_run_id": run_id, "task_ids": [TASK_ID], "only_failed": False},
    )
    wait_for_try(airflow_cluster, run_id, 2)

    second_id = airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "generation_id")
    assert second_id != first_id
    assert len(posts_for(e2e_emulator, run_id)) == 2
    assert e2e_emulator.generations[second_id].status == "completed"


def test_an_uncertain_post_is_settled_while_the_triggerer_holds_the_wait(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator
) -> None:
    """A 502 after Gamma started the deck: the task defers between lookups (no worker slot held),
    finds the deck by its reference, reads it until its updatedTime stays put (the DAG's short
    ``reconcile_window`` shortens that quiet period) and succeeds in its first try, with one
    generation, never before the deck was finished."""
    e2e_emulator.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    run_id = airflow_cluster.trigger_dag(DAG_ID)

    seen = airflow_cluster.wait_for_task_state(DAG_ID, run_id, TASK_ID, "success", timeout=120)

    assert "deferred" in seen, seen
    [post] = posts_for(e2e_emulator, run_id)
    assert post.status == 502
    [generation] = [g for g in e2e_emulator.generations.values() if run_id in g.input]
    assert airflow_cluster.xcom(DAG_ID, run_id, TASK_ID, "gamma_url") == generation.gamma_url
    result = airflow_cluster.xcom(DAG_ID, run_id, TASK_ID)
    assert result["reconciled"] is True
    assert result["gammaId"] == generation.gamma_id
    ti = airflow_cluster.task_instance(DAG_ID, run_id, TASK_ID)
    assert ti["try_number"] == 1
    assert generation.completed_at is not None
    assert datetime.fromisoformat(ti["end_date"]).timestamp() > generation.completed_at
    # Returned on a read a quiet period (the DAG's reconcile_window, 15 s) after its last change.
    reads = [r for r in e2e_emulator.requests if r.path == f"/v1.0/gammas/{generation.gamma_id}"]
    assert reads
    assert reads[-1].time >= generation.completed_at + QUIET - 0.5


AGENT_DAG_ID = "gamma_e2e_agent"
AGENT = "/v1.0/agent/generations"


def agent_posts(emulator: GammaEmulator, run_id: str) -> list[RecordedRequest]:
    return [r for r in emulator.requests if r.method == "POST" and r.path == AGENT and run_id in str(r.json)]


def test_an_agent_deck_and_its_pdf_export_both_wait_in_the_triggerer(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator, tmp_path: Path
) -> None:
    """Gamma 5: the agent run defers on the one trigger class (agent path picked by the ``gen_`` id),
    then a new PDF export of the same gamma defers on the export trigger and lands."""
    run_id = airflow_cluster.trigger_dag(AGENT_DAG_ID, conf={"dest": tmp_path.as_uri()})

    made = airflow_cluster.wait_for_task_state(AGENT_DAG_ID, run_id, "agent_deck", "success", timeout=120)
    landed = airflow_cluster.wait_for_task_state(AGENT_DAG_ID, run_id, "land_pdf", "success", timeout=120)
    assert airflow_cluster.wait_for_dag_run(AGENT_DAG_ID, run_id, timeout=30) == "success"
    assert "deferred" in made, made
    assert "deferred" in landed, landed  # the export was waited for in the triggerer

    assert len(agent_posts(e2e_emulator, run_id)) == 1
    [generation] = [g for g in e2e_emulator.generations.values() if run_id in g.input]
    assert generation.generation_id.startswith("gen_")
    result = airflow_cluster.xcom(AGENT_DAG_ID, run_id, "agent_deck")
    assert result["gammaId"] == generation.gamma_id
    assert result["summary"]
    assert [r for r in e2e_emulator.requests if r.path == f"{AGENT}/{generation.generation_id}"]
    exports = [r for r in e2e_emulator.requests if r.path == f"/v1.0/gammas/{generation.gamma_id}/export"]
    assert [r.json for r in exports] == [{"exportAs": "pdf"}]
    [pdf] = tmp_path.glob("agent-deck.pdf")
    assert pdf.read_bytes() == e2e_emulator.export_bytes(generation.generation_id, "pdf")
    assert airflow_cluster.task_instance(AGENT_DAG_ID, run_id, "agent_deck")["try_number"] == 1


def test_an_agent_post_whose_answer_was_lost_fails_listing_the_candidates(
    airflow_cluster: AirflowCluster, e2e_emulator: GammaEmulator, tmp_path: Path
) -> None:
    """A 502 on the agent POST after Gamma started the deck: the agent takes no title, so no
    reference can tell its deck apart. The task waits out its ``reconcile_window`` in the triggerer,
    then fails without a retry listing every gamma changed since the POST (this run's deck among
    them), never picking one and never paying again; the export downstream does not run."""
    e2e_emulator.add_fault(method="POST", path_prefix=AGENT, status=502, created=True)
    run_id = airflow_cluster.trigger_dag(AGENT_DAG_ID, conf={"dest": tmp_path.as_uri()})

    seen = airflow_cluster.wait_for_task_state(AGENT_DAG_ID, run_id, "agent_deck", "failed", timeout=150)
    assert airflow_cluster.wait_for_dag_run(AGENT_DAG_ID, run_id, timeout=60) == "failed"

    assert "deferred" in seen, seen  # the lookups waited in the triggerer
    assert [r.status for r in agent_posts(e2e_emulator, run_id)] == [502]
    [generation] = [g for g in e2e_emulator.generations.values() if run_id in g.input]
    log = airflow_cluster.task_log_tail(AGENT_DAG_ID, run_id, "agent_deck", lines=400)
    assert "the task cannot tell which, so it picks none" in log, log
    assert f"gamma {generation.gamma_id}" in log, log  # this run's deck is among the candidates
    assert generation.gamma_url in log, log
    assert airflow_cluster.task_instance(AGENT_DAG_ID, run_id, "agent_deck")["try_number"] == 1
    assert airflow_cluster.task_state(AGENT_DAG_ID, run_id, "land_pdf") == "upstream_failed"
    assert not [r for r in e2e_emulator.requests if r.path == f"/v1.0/gammas/{generation.gamma_id}/export"]
