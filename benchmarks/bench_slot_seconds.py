"""Worker-slot-seconds per generation / generation duration, through a REAL scheduler and triggerer.

What is measured
----------------
A Gamma emulator (own process, every generation takes ``gen_s`` seconds) and a real Airflow 3
deployment (:class:`tests.airflow_cluster.AirflowCluster`, the e2e suite's harness: api-server,
scheduler with the LocalExecutor, dag-processor, triggerer as separate processes) run the two DAGs of
``benchmarks/dags/gamma_bench_slot_seconds.py``, one after the other (so neither slows the other's
task start-up):

* ours: ``GammaGenerateOperator(deferrable=True, poll_interval=5)``: the task submits, defers, the
  triggerer polls, the task resumes to finish;
* baseline: a ``PythonOperator`` running the documented "generate and wait" loop with ``requests``
  (POST, then GET every 5 s until completed), which holds its worker slot throughout.

Slot-seconds = the sum of the task's running intervals, deferred time excluded, taken from the task
log's own timestamps (``<home>/logs/dag_id=.../attempt=1.log``, JSON lines written by the task process
while it runs): each running interval starts at a ``::group::Pre Execute`` line (the first line a
task process writes) and ends at the last line before the next such line (or the end of the file);
the deferrable task has two (submit + defer, resume + finish), the requests task one. This slightly
under-counts the process start-up before the first log line; for context, the task instance's REST
``start_date``/``end_date``/``duration`` and the states seen by polling the REST API every 0.2 s are
kept in the JSON. Generation duration = the emulator's configured ``gen_s``.

Before measuring, a no-op task runs once in the (single) worker process, so the measured tasks start
warm, as they do in a deployment that is running tasks; the warm-up's own slot time is kept in the
JSON for comparison with a cold start.

Target: ours <= 0.02 (the baseline is ~1.0 by construction). Full size: ``gen_s`` = 60. ``--tiny``:
4 s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import REPO, Emulator, ModuleResult, Row, cli, write_result

DAGS = Path(__file__).resolve().parent / "dags"
OURS = "gamma_bench_slot_deferrable"
BASELINE = "gamma_bench_slot_requests"
WARMUP = "gamma_bench_slot_warmup"
TARGET = 0.02


def running_intervals(log_file: Path) -> tuple[list[tuple[float, float]], list[float]]:
    """The task process's running intervals (epoch seconds) from the timestamps of its JSON log lines,
    and for each the seconds spent before the task code started (the first ``::endgroup::``: task
    runner start-up and DAG file parsing)."""
    intervals: list[tuple[float, float]] = []
    startups: list[float] = []
    start: float | None = None
    last: float | None = None
    for line in log_file.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            stamp = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        if entry.get("event") == "::group::Pre Execute":
            if start is not None and last is not None:
                intervals.append((start, last))
            start = stamp
            startups.append(-1.0)
        elif entry.get("event") == "::endgroup::" and start is not None and startups[-1] < 0:
            startups[-1] = stamp - start
        last = stamp
    if start is not None and last is not None:
        intervals.append((start, last))
    return intervals, startups


def _task_log(home: Path, dag_id: str) -> Path:
    logs = sorted((home / "logs" / f"dag_id={dag_id}").glob("run_id=*/task_id=generate/attempt=1.log"))
    if not logs:
        raise RuntimeError(f"no task log for {dag_id} under {home / 'logs'}")
    return logs[-1]


def _created_at(emulator: Emulator) -> dict[str, float]:
    """Wall-clock creation time of each generation (each lasts the configured ``gen_s``)."""
    generations = emulator.control("GET", "/_emulator/generations")
    return {g: float(v["created_at"]) for g, v in generations.items()}


def measure(cluster: Any, dag_id: str, timeout: float) -> dict[str, Any]:
    run_id = cluster.trigger_dag(dag_id)
    states: list[tuple[float, str | None]] = []
    deadline = time.monotonic() + timeout
    state: str | None = None
    while time.monotonic() < deadline:  # bounded: timeout / 0.2 s polls
        state = cluster.task_state(dag_id, run_id, "generate")
        if not states or states[-1][1] != state:
            states.append((time.time(), state))
        if state in ("success", "failed", "upstream_failed", "skipped"):
            break
        time.sleep(0.2)
    ti = cluster.task_instance(dag_id, run_id, "generate")
    intervals, startups = running_intervals(_task_log(cluster.home, dag_id))
    if not intervals:
        raise RuntimeError(f"no running intervals found in the task log of {dag_id}: nothing to measure")
    return {
        "run_id": run_id,
        "final_state": state,
        "states_seen": states,
        "ti": {k: ti.get(k) for k in ("start_date", "end_date", "duration", "try_number", "state")},
        "running_intervals": intervals,
        "startup_seconds": startups,
        "slot_seconds": sum(end - start for start, end in intervals),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    sys.path.insert(0, str(REPO))  # the harness lives in the test tree; a script sees only benchmarks/
    from tests.airflow_cluster import AirflowCluster

    gen_s = 4.0 if args.tiny else 60.0
    poll = 2.0 if args.tiny else 5.0
    started = time.perf_counter()
    result = ModuleResult("slot_seconds", {"gen_s": gen_s, "poll_interval": poll, "tiny": args.tiny})
    runs: dict[str, Any] = {}
    with (
        Emulator(generation_seconds=gen_s) as emulator,
        AirflowCluster(
            DAGS,
            connections={"gamma_default": emulator.connection_uri},
            env={"GAMMA_BENCH_POLL_INTERVAL": str(poll)},
            # One worker process, warmed up by a no-op run first: the measured tasks then start the way
            # they do in a deployment that is already running tasks (not Python's cold start).
            parallelism=1,
        ) as cluster,
    ):
        result.params["cluster_start_s"] = time.perf_counter() - started
        timeout = gen_s * 3 + 120
        runs["warmup"] = measure(cluster, WARMUP, 120)
        # One after the other (also in --tiny): two concurrent dagRuns POSTs can stall a one-worker
        # api-server on sqlite past the client's timeout.
        for dag in (OURS, BASELINE):
            print(f"slot_seconds: {dag} ...", file=sys.stderr)
            runs[dag] = measure(cluster, dag, timeout)
        created = _created_at(emulator)
    for data in runs.values():
        data["ratio"] = data["slot_seconds"] / gen_s
    result.params["warmup_slot_seconds"] = runs["warmup"]["slot_seconds"]
    ours, base = runs[OURS], runs[BASELINE]
    result.rows.append(
        Row(
            "slot_seconds",
            "worker-slot-seconds / generation duration",
            "ratio",
            ours["ratio"],
            base["ratio"],
            "PythonOperator requests loop",
            f"<= {TARGET:g}",
            ours["final_state"] == "success" and ours["ratio"] <= TARGET,
            f"ours {ours['slot_seconds']:.2f} s in {len(ours['running_intervals'])} intervals "
            f"({', '.join(f'{e - s:.2f}' for s, e in ours['running_intervals'])} s, of which start-up "
            f"{', '.join(f'{x:.2f}' for x in ours['startup_seconds'])} s); "
            f"baseline {base['slot_seconds']:.1f} s; generation {gen_s:g} s",
        )
    )
    result.details = {"runs": runs, "generations_created_at": created}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0 if ours["final_state"] == "success" and base["final_state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
