# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Helpers for the reliability suite: run a DAG of ``tests/reliability/dags`` under ``airflow dags test``
(pass or fail) and read back what Airflow recorded for its task instances."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma.testing import GammaEmulator
from tests.conftest import BIN

DAGS = Path(__file__).resolve().parent / "dags"
LOGICAL_DATE = "2026-03-02"


def has_task_state_store() -> bool:
    """Whether this Airflow gives tasks ``context["task_state_store"]`` (Airflow >= 3.3)."""
    try:
        from airflow.sdk.execution_time.context import TaskStateStoreAccessor  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class DagRunResult:
    dag_id: str
    returncode: int
    output: str
    seconds: float
    tis: dict[tuple[str, int], dict[str, Any]]

    def ti(self, task_id: str, map_index: int = -1) -> dict[str, Any]:
        return self.tis[(task_id, map_index)]

    def states(self) -> dict[tuple[str, int], str]:
        return {key: str(ti["state"]) for key, ti in self.tis.items()}


def connection(emulator: GammaEmulator, *, key: str | None = None, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_*`` value for ``emulator``; ``key`` overrides the accepted key."""
    conn: dict[str, Any] = {
        "conn_type": "gamma",
        "host": emulator.base_url,
        "password": emulator.api_key if key is None else key,
    }
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


def run_dag(
    airflow_home: Path,
    dag_id: str,
    env: dict[str, str],
    *,
    logical_date: str = LOGICAL_DATE,
    dags_folder: Path = DAGS,
    timeout: float = 180,
) -> DagRunResult:
    """``airflow dags test dag_id`` with ``dags_folder``; returns its exit code, output and task instances."""
    began = time.monotonic()
    process = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", dag_id, logical_date],
        # One unbuffered stream, so task logs (stdout on Airflow 3.1) stay between the [DAG TEST] lines.
        env={**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder), "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - began
    return DagRunResult(
        dag_id=dag_id,
        returncode=process.returncode,
        output=process.stdout,
        seconds=seconds,
        tis=task_instances(airflow_home, dag_id),
    )


def task_instances(airflow_home: Path, dag_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    """The task instances of the DAG's newest run, keyed by ``(task_id, map_index)``."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        db.row_factory = sqlite3.Row
        run = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        if run is None:
            return {}
        rows = db.execute(
            "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run["run_id"]),
        ).fetchall()
    return {(row["task_id"], row["map_index"]): dict(row) for row in rows}


@contextmanager
def watching(step: Callable[[], None], every: float = 0.02) -> Iterator[None]:
    """Call ``step()`` every ``every`` seconds from a thread while the block runs (to react to what a
    DAG run in another process does to the emulator)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            step()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    step()


@pytest.fixture
def emulator() -> Iterator[GammaEmulator]:
    """A fresh emulator for one DAG-level case (generations take 0.3 s)."""
    with GammaEmulator(generation_seconds=0.3) as emu:
        yield emu
