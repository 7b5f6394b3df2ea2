# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The operators inside real Airflow: ``airflow dags test`` (triggers run inline) against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import airflow_cli

DAGS = Path(__file__).parent / "dags"


def dags_test(dag_id: str, emu) -> str:
    result = airflow_cli(
        "dags",
        "test",
        dag_id,
        "2026-01-05",
        env={"AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW_CONN_GAMMA_DEFAULT": emu.connection_uri()},
    )
    return result.stdout + result.stderr


def last_run_state(dag_id: str) -> str:
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(DAGS)}
    out = airflow_cli("dags", "list-runs", dag_id, "-o", "json", env=env).stdout
    runs = json.loads(next(line for line in out.splitlines() if line.startswith("[")))
    return str(runs[0]["state"])


@pytest.mark.usefixtures("airflow_home")
@pytest.mark.parametrize("dag_id", ["gamma_generate_deferrable", "gamma_generate_in_process"])
def test_generate_dag_runs_green(gamma_connection, dag_id):
    output = dags_test(dag_id, gamma_connection)
    assert last_run_state(dag_id) == "success"
    assert gamma_connection.post_count() == 1
    [generation] = gamma_connection.generations.values()
    assert generation.status == "completed"
    assert generation.num_cards == 4  # the templated number was rendered and sent as an int
    assert "Revenue for 2026-01-05" in generation.input
    assert gamma_connection.api_key not in output


@pytest.mark.usefixtures("airflow_home")
def test_sensor_waits_for_a_generation_started_upstream(gamma_connection):
    dags_test("gamma_generate_then_sense", gamma_connection)
    assert last_run_state("gamma_generate_then_sense") == "success"
    assert gamma_connection.post_count() == 1
    [generation] = gamma_connection.generations.values()
    polls = [
        r for r in gamma_connection.requests if r.path == f"/v1.0/generations/{generation.generation_id}"
    ]
    assert polls
    assert polls[-1].status == 200
