# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The API key never leaves the connection, and no signed export URL is kept: the example DAGs run end
to end with a distinctive key, then the Airflow home (task logs, the metadata DB, every table
including decrypted trigger kwargs), the runs' stdout/stderr and the export host's request headers are
searched for the key, and every file and table of the Airflow home for a signed URL's signature."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma.testing import GammaEmulator
from tests.conftest import BIN, REPO

EXAMPLE_DAGS = REPO / "example_dags"
# Dates of their own, so these runs are not confused with tests/test_example_dags.py's.
RUNS = {
    "regional_decks": "2026-04-06",
    "weekly_report_deck": "2026-04-06",
    "template_deck": "2026-04-01",
    "agent_deck": "2026-04-06",
}
#: The query parameter that makes the emulator's ``exportUrl`` a bearer URL (an HMAC-SHA256, in hex).
SIGNATURE = re.compile(rb"signature=[0-9a-f]{16}")


class _DagsTest:
    """``airflow dags test`` in the background; its output is collected line by line."""

    def __init__(self, dag_id: str, logical_date: str, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(BIN / "airflow"), "dags", "test", dag_id, logical_date],
            env={**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_until_running(self, timeout: float = 120) -> None:
        """Until the first task started: the DAG files are synced to the DB, the big write is done."""
        deadline = time.monotonic() + timeout
        while not any("[DAG TEST] starting" in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def finish(self, timeout: float = 240) -> tuple[int, str]:
        returncode = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return returncode, "".join(self.lines)


def _file_bytes(path: Path) -> bytes:
    """A file's bytes; the metadata DB's read by a child process. This process holds SQLite
    connections to it (Airflow's ORM pool), and closing any other descriptor of that file here would
    drop their POSIX locks (SQLite's "how to corrupt", 2.2): later reads then saw a "malformed" DB."""
    if not path.name.startswith("airflow.db"):
        return path.read_bytes()
    read = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    return subprocess.run([sys.executable, "-c", read, str(path)], capture_output=True, check=True).stdout


def _table_rows(db_path: Path) -> dict[str, list[str]]:
    """Every row of every table, as text (blobs decoded leniently)."""
    rows: dict[str, list[str]] = {}
    with closing(sqlite3.connect(db_path)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            texts = []
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                texts.append(
                    " | ".join(
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        for value in row
                    )
                )
            rows[table] = texts
    return rows


def _trigger_kwargs() -> list[dict[str, Any]]:
    """The ``trigger`` table's kwargs, decrypted the way the triggerer reads them."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [
            {"classpath": trigger.classpath, "kwargs": trigger.kwargs}
            for trigger in session.scalars(select(Trigger))
        ]


@pytest.fixture(scope="module")
def example_runs(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    key = f"sk-gamma-SECRET-{uuid.uuid4()}"
    dest = tmp_path_factory.mktemp("decks")
    with GammaEmulator(api_key=key, generation_seconds=0.5) as emu:
        env = {
            "AIRFLOW_CONN_GAMMA_DEFAULT": emu.connection_uri(),
            "GAMMA_DECKS_DEST": dest.as_uri(),
            "AIRFLOW_VAR_GAMMA_DECKS_DEST": "",
        }
        # Side by side, as each run mostly waits out the operators' 10 s first-poll delay; each starts
        # once the one before has written its DAGs to the (sqlite) DB, which two at once would lock.
        runs: dict[str, _DagsTest] = {}
        for dag_id, logical_date in RUNS.items():
            runs[dag_id] = _DagsTest(dag_id, logical_date, env)
            runs[dag_id].wait_until_running()
        outputs = {dag_id: run.finish() for dag_id, run in runs.items()}
        return {
            "key": key,
            "dest": dest,
            "outputs": outputs,
            "api_requests": emu.requests,
            "export_requests": emu.export_requests,
            "generations": emu.generations,
        }


def test_the_example_dags_ran_green_and_used_the_key(example_runs: dict[str, Any]) -> None:
    for dag_id, (returncode, output) in example_runs["outputs"].items():
        assert returncode == 0, f"{dag_id}:\n{output[-3000:]}"
    assert len(example_runs["generations"]) == 7  # weekly, template, four regions, the agent's
    # The template deck lands twice: as PDF and, through a second export of its gamma, as PPTX.
    assert (
        sorted(p.suffix for p in example_runs["dest"].rglob("*") if p.is_file()) == [".pdf"] + [".pptx"] * 7
    )
    # The key really went to the API, on every request: a search that finds nothing means something.
    assert example_runs["api_requests"]
    assert {r.headers.get("x-api-key") for r in example_runs["api_requests"]} == {example_runs["key"]}


def test_the_key_never_reaches_the_export_host(example_runs: dict[str, Any]) -> None:
    assert len(example_runs["export_requests"]) == 8
    for request in example_runs["export_requests"]:
        assert "x-api-key" not in request.headers
        assert "authorization" not in request.headers
        assert example_runs["key"] not in json.dumps(request.headers)
        assert example_runs["key"] not in str(request.query)


def test_the_key_is_not_in_stdout_or_stderr(example_runs: dict[str, Any]) -> None:
    for dag_id, (_, output) in example_runs["outputs"].items():
        assert example_runs["key"] not in output, dag_id
        assert "[DAG TEST] end task" in output  # the task logs are part of what was searched


def test_the_key_is_not_in_any_file_of_the_airflow_home(
    airflow_home: Path, example_runs: dict[str, Any]
) -> None:
    needle = example_runs["key"].encode()
    searched = [path for path in airflow_home.rglob("*") if path.is_file()]
    assert any(path.name == "airflow.db" for path in searched)
    assert [str(path) for path in searched if needle in _file_bytes(path)] == []


def test_the_key_is_not_in_any_table(airflow_home: Path, example_runs: dict[str, Any]) -> None:
    rows = _table_rows(airflow_home / "airflow.db")
    for table in ("xcom", "trigger", "rendered_task_instance_fields", "task_instance", "log", "dag_run"):
        assert table in rows
    leaks = {table: [row for row in texts if example_runs["key"] in row] for table, texts in rows.items()}
    assert {table: found for table, found in leaks.items() if found} == {}
    # The search sees the runs: their generation ids are in XCom and the rendered fields were stored.
    generation_ids = set(example_runs["generations"])
    assert all(any(gid in row for row in rows["xcom"]) for gid in generation_ids)
    rendered = [row for row in rows["rendered_task_instance_fields"] if "weekly_report_deck" in row]
    assert rendered, "no rendered template fields stored for weekly_report_deck"


def test_the_key_is_not_in_the_decrypted_trigger_kwargs(example_runs: dict[str, Any]) -> None:
    triggers = [t for t in _trigger_kwargs() if t["classpath"].endswith("GammaGenerationTrigger")]
    ours = [t for t in triggers if t["kwargs"].get("generation_id") in example_runs["generations"]]
    assert len(ours) == 7, "every deferred generate task stored its trigger"
    for trigger in ours:
        assert example_runs["key"] not in json.dumps(trigger["kwargs"], default=str)
        assert set(trigger["kwargs"]) == {
            "generation_id",
            "gamma_conn_id",
            "poll_interval",
            "end_time",
            "max_consecutive_errors",
            "first_poll_delay",
            "started_at",
        }


# --- signed export URLs ----------------------------------------------------------------------------


def _signatures(example_runs: dict[str, Any]) -> set[bytes]:
    """The signatures of the export URLs the runs downloaded: found in any spelling (JSON, quoted)."""
    return {request.query["signature"].encode() for request in example_runs["export_requests"]}


def test_the_needle_finds_a_signed_url(example_runs: dict[str, Any]) -> None:
    # Every landed deck was fetched by a signed URL, which the search below would recognise.
    assert len(_signatures(example_runs)) == len(example_runs["export_requests"]) == 8
    for request in example_runs["export_requests"]:
        url = f"{request.path}?expires={request.query['expires']}&signature={request.query['signature']}"
        assert SIGNATURE.search(url.encode())


def test_no_signed_url_in_any_file_of_the_airflow_home(
    airflow_home: Path, example_runs: dict[str, Any]
) -> None:
    """Every file, the DB file itself included (``airflow dags test`` writes the task logs, the
    trigger's lines among them, to its stdout: searched below)."""
    searched = [path for path in airflow_home.rglob("*") if path.is_file()]
    assert any(path.name == "airflow.db" for path in searched)
    signatures = _signatures(example_runs)
    leaks = [
        str(path)
        for path in searched
        if SIGNATURE.search(data := _file_bytes(path)) or any(sig in data for sig in signatures)
    ]
    assert leaks == []


def test_no_signed_url_in_any_table(airflow_home: Path, example_runs: dict[str, Any]) -> None:
    """The metadata DB as SQL (every row of every table), XCom and the resumed tasks' events included."""
    with closing(sqlite3.connect(airflow_home / "airflow.db")) as db:
        dump = "\n".join(db.iterdump()).encode()
    assert b'INSERT INTO "xcom"' in dump
    # The shareable link and the ids stay: the generate tasks' results are there, without the URL.
    assert b"https://gamma.app/docs/" in dump
    assert all(gid.encode() in dump for gid in example_runs["generations"])
    assert SIGNATURE.findall(dump) == []
    assert [sig for sig in _signatures(example_runs) if sig in dump] == []
    assert b"exportUrl" not in dump


def test_no_signed_url_in_stdout_or_stderr(example_runs: dict[str, Any]) -> None:
    """The task logs: each task's lines, its trigger's and the landing of the file."""
    signatures = [sig.decode() for sig in _signatures(example_runs)]
    for dag_id, (_, output) in example_runs["outputs"].items():
        assert "Watching Gamma generation" in output, dag_id
        assert "Landed file://" in output, dag_id
        assert not SIGNATURE.search(output.encode()), dag_id
        assert not any(sig in output for sig in signatures), dag_id
