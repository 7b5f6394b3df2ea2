# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The main job under a real scheduler + triggerer: ``weekly_report_deck`` lands a deck, and its asset
event starts ``on_new_deck``, the next team's DAG, exactly as in production."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.emulator import GammaEmulator
from tests.airflow_cluster import AirflowCluster

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowCluster, GammaEmulator, Path]]:
    dags = tmp_path_factory.mktemp("example-dags")
    for name in ("weekly_report_deck.py", "on_new_deck.py"):
        shutil.copy(EXAMPLES / name, dags / name)
    shutil.copytree(EXAMPLES / "data", dags / "data")
    landing = tmp_path_factory.mktemp("decks")
    with (
        GammaEmulator(generation_seconds=3) as emulator,
        AirflowCluster(
            dags,
            connections={"gamma_default": emulator.connection_uri()},
            # The scheduler creates the weekly run itself (catchup=False: the latest Monday), as in
            # production, and the asset-triggered run of the consumer.
            env={"GAMMA_DECKS_DEST": landing.as_uri(), "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"},
        ) as cluster,
    ):
        yield cluster, emulator, landing


def test_weekly_deck_lands_and_its_asset_starts_the_next_dag(chain) -> None:
    cluster, emulator, landing = chain
    cluster.wait_for_dag("weekly_report_deck")
    cluster.wait_for_dag("on_new_deck")
    [scheduled] = cluster.wait_for_dag_runs("weekly_report_deck")  # scheduled by the scheduler itself
    assert scheduled["run_type"] == "scheduled"
    run_id = scheduled["dag_run_id"]
    states = cluster.wait_for_task_state(
        "weekly_report_deck", run_id, "generate_deck", ["success"], timeout=180
    )
    assert "deferred" in states
    assert cluster.wait_for_dag_run("weekly_report_deck", run_id, timeout=60) == "success"

    [deck] = landing.rglob("weekly-report.pptx")
    [generation] = emulator.generations.values()
    assert deck.read_bytes() == emulator.export_bytes(generation.generation_id)
    assert emulator.post_count() == 1

    [consumer] = cluster.wait_for_dag_runs("on_new_deck")  # started by the weekly deck's asset event
    assert consumer["run_type"] == "asset_triggered"
    assert cluster.wait_for_dag_run("on_new_deck", consumer["dag_run_id"], timeout=120) == "success"
