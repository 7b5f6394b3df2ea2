# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Fixtures for the end-to-end tests: one Gamma emulator and one real Airflow deployment per module.

Set ``GAMMA_E2E_KEEP_HOME=1`` to keep the cluster's Airflow home (component logs in
``cluster-logs/``, task and trigger logs in ``logs/``) after the tests; its path is printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.emulator import GammaEmulator
from tests.airflow_cluster import AirflowCluster

DAGS = Path(__file__).resolve().parent / "dags"
#: How long an emulated generation takes: long enough to observe the task deferred.
GENERATION_SECONDS = 6.0
#: How long an export of an existing gamma takes: long enough for the export task to defer.
EXPORT_SECONDS = 4.0


@pytest.fixture(scope="module")
def e2e_emulator() -> Iterator[GammaEmulator]:
    """A Gamma emulator shared by the module (the cluster's ``gamma_default`` points at it). Search
    shows a deck still being written, as Gamma may: a task settling a lost POST answer must still
    return it only once finished."""
    with GammaEmulator(
        generation_seconds=GENERATION_SECONDS, export_seconds=EXPORT_SECONDS, searchable_while_pending=True
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def airflow_cluster(e2e_emulator: GammaEmulator) -> Iterator[AirflowCluster]:
    """A real Airflow (api-server, scheduler, dag-processor, triggerer) from this interpreter's venv,
    with ``tests/e2e/dags`` as DAGs folder."""
    keep = os.environ.get("GAMMA_E2E_KEEP_HOME", "") not in ("", "0")
    cluster = AirflowCluster(
        DAGS,
        connections={"gamma_default": e2e_emulator.connection_uri()},
        keep_home=keep,
    )
    with cluster:
        if keep:
            print(f"\nAirflow cluster home: {cluster.home}")
        yield cluster
