"""1,000 generations watched by 1, 2 and 3 processes that share one API key's (scaled-down) rate limit.

Teams run two or more triggerers for high availability. Each keeps its own rate budget; the only
signal they share is Gamma's ``x-ratelimit-remaining*`` count, which falls by what *all* of them
send. Each budget infers the others' spending from how much further that count falls than its own
requests explain, and spends only its share of what is left (``protocol.RateBudget``).

What is measured
----------------
For each variant a fresh emulator (own process) enforces ``burst_limit`` requests per
``burst_window_s`` (full size: 500 per 10 s, a 50 req/s ceiling, while 1,000 watchers polling every
5 s would want 200 req/s, as in bench_rate_limit.py). ``k`` child processes (``_watch_child.py``,
each an event loop running ``GammaGenerationTrigger.run()`` as a triggerer does) start at once,
wait for a common start moment, create ``n / k`` generations each (``create_rate / k`` per second,
so the key sees the same creation rate in every variant) and watch them:

* ``1 process``: the reference, every generation in one triggerer;
* ``2 processes`` and ``3 processes``: the same 1,000 generations split between them;
* ``3 processes, each assuming it is alone``: the baseline, the same code with the inference switched
  off (``others_share`` forced to 0), i.e. every budget spends the whole window's ``remaining``.

Reported: 429 answers to polls (from the emulator's recorded requests; target 0 with 2 and 3
processes); polls per generation, mean (target: within 10 % of the 1-process figure);
completion-to-detection latency p50 (the watcher's return, ``time.monotonic`` in the child, minus the
generation's ``ready_at`` in the emulator; same system-wide clock; target: within 20 % of the
1-process figure); generations completed and detected (target: all); and the share of the key's
spending each process inferred the others took, over the middle half of its answers (context;
``(k-1)/k`` when the processes are equally busy).

Sizes are bench_rate_limit.py's: full n=1000, gen_s=40, interval=5, about 2 minutes per variant;
``--tiny`` (a smoke test of the machinery, not of the limit) n=20, gen_s=4, interval 0.25 s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import Emulator, ModuleResult, Row, bench_env, cli, pct, run_child, temp_home, write_result
from bench_rate_limit import over_subscribed
from bench_triggers import CHILD, detection_latencies, server_side

#: label -> (processes, assume_alone)
VARIANTS: dict[str, tuple[int, bool]] = {
    "1 process": (1, False),
    "2 processes": (2, False),
    "3 processes": (3, False),
    "3 processes, each assuming it is alone": (3, True),
}


def run_processes(
    processes: int, assume_alone: bool, params: dict[str, Any], emulator_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Run ``processes`` watch children at once against one emulator; merge what they measured."""
    n = params["n"]
    shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    with Emulator(**emulator_kwargs) as emulator, temp_home("gamma-bench-shared-") as home:
        env = bench_env(home, {"AIRFLOW_CONN_GAMMA_DEFAULT": emulator.connection_uri})
        start_at = time.time() + params["start_delay_s"]
        child_params = [
            dict(
                params,
                variant="ours",
                n=share,
                create_rate=params["create_rate"] / processes,
                start_at=start_at,
                assume_alone=assume_alone,
            )
            for share in shares
        ]
        timeout = params["start_delay_s"] + params["deadline_s"] + params["create_timeout_s"] + 120
        with ThreadPoolExecutor(max_workers=processes) as pool:
            children = list(
                pool.map(lambda p: run_child([CHILD, json.dumps(p)], env, timeout=timeout), child_params)
            )
        warm_ids = {child["warm_id"] for child in children}
        ids = {g for g in emulator.control("GET", "/_emulator/generations", timeout=120) if g not in warm_ids}
        detected: dict[str, float] = {}
        for child in children:
            detected.update(child.pop("detected"))
        server = server_side(emulator, ids)
        latencies = detection_latencies(emulator, detected)
        refused_at = sorted(
            round(record["time"] - start_at, 1)
            for record in emulator.control("GET", "/_emulator/requests", timeout=120)
            if record["status"] == 429 and record["method"] == "GET"
        )
    return {
        "processes": processes,
        "assume_alone": assume_alone,
        "n": len(ids),
        "completed_detected": sum(1 for g in detected if g in ids),
        "successes": sum(child["statuses"].get("success", 0) for child in children),
        "server": server,
        "latency_s": {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "n": len(latencies)},
        "polls_refused_at_s": refused_at,  # seconds after the common start
        "children": children,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    params, emulator_kwargs = over_subscribed(args.tiny)
    # time for the children to import, warm up and reach the common start moment
    params["start_delay_s"] = 15.0 if args.tiny else 30.0
    started = time.perf_counter()
    result = ModuleResult("shared_key", dict(params, emulator=emulator_kwargs))
    runs: dict[str, dict[str, Any]] = {}
    for label, (processes, assume_alone) in VARIANTS.items():
        print(f"shared_key: {label}, {params['n']} generations ...", file=sys.stderr)
        runs[label] = run_processes(processes, assume_alone, params, emulator_kwargs)
    one, alone = runs["1 process"], runs["3 processes, each assuming it is alone"]
    n = params["n"]

    def polls(r: dict[str, Any]) -> float:
        return float(r["server"]["polls_per_generation_mean"])

    def p50(r: dict[str, Any]) -> float:
        return float(r["latency_s"]["p50"])

    def rate_limited(r: dict[str, Any]) -> float:
        return float(r["server"]["rate_limited_429"])

    def settled_share(r: dict[str, Any]) -> float:
        values = [c["others_share"]["mean"] for c in r["children"] if c["others_share"]]
        return sum(values) / len(values) if values else float("nan")

    for label in ("2 processes", "3 processes"):
        ours = runs[label]
        k = ours["processes"]
        rows = [
            (
                "429s seen by pollers",
                "responses",
                rate_limited(ours),
                rate_limited(alone),
                "3 processes, each assuming it is alone",
                "0",
                rate_limited(ours) == 0,
                f"of {ours['server']['polls']} polls",
            ),
            (
                "polls per generation (mean)",
                "polls",
                polls(ours),
                polls(one),
                "1 process",
                "within 10 % of 1 process",
                abs(polls(ours) - polls(one)) <= 0.10 * polls(one),
                f"max {ours['server']['polls_per_generation_max']}",
            ),
            (
                "completion-to-detection latency p50",
                "s",
                p50(ours),
                p50(one),
                "1 process",
                "within 20 % of 1 process",
                abs(p50(ours) - p50(one)) <= 0.20 * p50(one),
                f"p99 {ours['latency_s']['p99']:.1f} s, 1 process {one['latency_s']['p99']:.1f} s",
            ),
            (
                "generations completed and detected",
                "of N",
                float(ours["successes"]),
                float(one["successes"]),
                "1 process",
                f"{n}",
                ours["successes"] == n,
                "",
            ),
            (
                "share of the key's spending inferred as the others'",
                "ratio",
                settled_share(ours),
                (k - 1) / k,
                "equal split",
                "-",
                None,
                "mean over processes, middle half of their answers",
            ),
        ]
        for metric, unit, value, base, base_name, target, passed, note in rows:
            result.rows.append(
                Row("shared_key", f"{label}: {metric}", unit, value, base, base_name, target, passed, note)
            )
    result.details = {"runs": runs}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
