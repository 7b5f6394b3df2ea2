# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The provider on a production-like Airflow: Postgres metadata DB, CeleryExecutor with a Redis broker
and one worker with 2 slots, one scheduler, one dag-processor and two triggerers at once.

Postgres and Redis are Debian's packages, started here on loopback ports and stopped by PID
(``tests/e2e/services.py``). On it run the weekly example chain (scheduled deck, landed, its asset
starting the next team's DAG) and 50 mapped deferrable generations split across both triggerers, one
of which is SIGKILLed while it holds triggers.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.emulator import GammaEmulator
from tests.airflow_cluster import COMPONENTS, AirflowCluster

from . import services

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(services.missing()),
        reason=f"needs Debian packages: apt-get install -y {' '.join(services.missing())}",
    ),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
TOPOLOGY_DAGS = Path(__file__).resolve().parent / "topology_dags"
MAPPED = "gamma_topology_mapped"
DECKS = 50
#: Each triggerer takes at most this many triggers, so the 50 cannot all go to the first one to look.
TRIGGERER_CAPACITY = 30
GENERATION_SECONDS = 15.0


class Topology:
    def __init__(self, cluster: AirflowCluster, emulator: GammaEmulator, landing: Path, db_url: str) -> None:
        self.cluster, self.emulator, self.landing = cluster, emulator, landing
        import sqlalchemy

        self.db = sqlalchemy.create_engine(db_url)

    def triggers_per_triggerer(self) -> dict[int | None, int]:
        """How many triggers each triggerer (by job id; ``None``: not yet taken) holds right now."""
        import sqlalchemy

        with self.db.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("SELECT triggerer_id, count(*) FROM trigger GROUP BY 1")
            )
            return {row[0]: int(row[1]) for row in rows}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    dags = tmp_path_factory.mktemp("topology-dags")
    for name in ("weekly_report_deck.py", "on_new_deck.py"):
        shutil.copy(EXAMPLES / name, dags / name)
    shutil.copytree(EXAMPLES / "data", dags / "data")
    shutil.copy(TOPOLOGY_DAGS / "gamma_topology.py", dags / "gamma_topology.py")
    landing = tmp_path_factory.mktemp("decks")
    with (
        services.postgres() as db_url,
        services.redis() as broker_url,
        GammaEmulator(generation_seconds=GENERATION_SECONDS) as emulator,
        AirflowCluster(
            dags,
            database_url=db_url,
            components=(*COMPONENTS, "triggerer-2", "celery-worker"),
            keep_home=os.environ.get("GAMMA_E2E_KEEP_HOME", "") not in ("", "0"),
            connections={"gamma_default": emulator.connection_uri()},
            env={
                "GAMMA_DECKS_DEST": landing.as_uri(),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",  # the weekly run, as in production
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db_url}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                "AIRFLOW__TRIGGERER__CAPACITY": str(TRIGGERER_CAPACITY),
            },
        ) as cluster,
    ):
        yield Topology(cluster, emulator, landing, db_url)


def test_the_weekly_chain_runs_on_celery_and_postgres(topology: Topology) -> None:
    cluster, emulator = topology.cluster, topology.emulator
    cluster.wait_for_dag("weekly_report_deck")
    cluster.wait_for_dag("on_new_deck")
    [scheduled] = cluster.wait_for_dag_runs("weekly_report_deck", timeout=180)
    run_id = scheduled["dag_run_id"]
    states = cluster.wait_for_task_state(
        "weekly_report_deck", run_id, "generate_deck", "success", timeout=240
    )
    assert "deferred" in states
    assert cluster.wait_for_dag_run("weekly_report_deck", run_id, timeout=120) == "success"

    [deck] = topology.landing.rglob("weekly-report.pptx")
    [generation] = [g for g in emulator.generations.values() if "Regional deck" not in g.input]
    assert deck.read_bytes() == emulator.export_bytes(generation.generation_id)
    [consumer] = cluster.wait_for_dag_runs("on_new_deck", timeout=120)
    assert consumer["run_type"] == "asset_triggered"
    assert cluster.wait_for_dag_run("on_new_deck", consumer["dag_run_id"], timeout=180) == "success"
    assert "CeleryExecutor" in cluster.env["AIRFLOW__CORE__EXECUTOR"]


def test_fifty_mapped_decks_split_across_two_triggerers_survive_one_killed(topology: Topology) -> None:
    cluster, emulator = topology.cluster, topology.emulator
    assert len(cluster.alive_jobs("TriggererJob")) == 2
    run_id = cluster.trigger_dag(MAPPED)

    # Wait until both triggerers hold some of the run's triggers, then kill the second one.
    holders: set[int] = set()
    deadline = time.monotonic() + 300
    while len(holders) < 2:
        assert time.monotonic() < deadline, f"triggers never held by two triggerers: {holders}"
        holders |= {
            job for job, count in topology.triggers_per_triggerer().items() if job is not None and count
        }
        time.sleep(0.5)
    cluster.kill("triggerer-2", signal.SIGKILL)

    for index in range(DECKS):
        cluster.wait_for_task_state(MAPPED, run_id, "generate", "success", timeout=600, map_index=index)
    assert cluster.wait_for_dag_run(MAPPED, run_id, timeout=60) == "success"

    posts = [
        r
        for r in emulator.requests
        if r.method == "POST"
        and r.path == "/v1.0/generations"
        and run_id in str((r.json or {}).get("inputText"))
    ]
    assert len(posts) == DECKS, "exactly one POST per deck"
    decks = [g for g in emulator.generations.values() if run_id in g.input]
    assert len(decks) == DECKS
    assert all(g.status == "completed" for g in decks)
    for index in range(DECKS):
        ti = cluster.task_instance(MAPPED, run_id, "generate", map_index=index)
        assert ti["try_number"] == 1
        assert cluster.xcom(MAPPED, run_id, "generate", map_index=index)["status"] == "completed"
    assert topology.triggers_per_triggerer() == {}
