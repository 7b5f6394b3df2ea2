"""Several triggerer processes on one API key's (scaled-down) rate limit: the steady state, the start-up
herd, and what the rate budget costs; each measured with today's budget and with 382df8a's.

Teams run two or more triggerers for high availability. Each keeps its own rate budget; the only
signal they share is Gamma's ``x-ratelimit-remaining*`` count, which falls by what *all* of them
send. Each budget infers the others' spending from how much further that count falls than its own
requests explain, and spends only its share of what is left (``protocol.RateBudget``, rules B1-B6 at
the top of ``protocol/_ratelimit.py``). The "382df8a budget" variants run the same children with the
budget of commit 382df8a (``_budget_before.py``), so before and after are measured in the same run.

What is measured
----------------
For each variant a fresh emulator (own process) and ``k`` child processes (``_watch_child.py``, each
an event loop running ``GammaGenerationTrigger.run()`` as a triggerer does) that wait for a common
start moment, create ``n / k`` generations each (``create_rate / k`` per second, so the key sees the
same creation rate in every variant) and watch them.

1. Steady state: 1,000 generations, ``burst_limit`` 500 per 10 s (a 50 req/s ceiling while 1,000
   watchers polling every 5 s would want 200 req/s, as in bench_rate_limit.py), watchers starting
   over one poll interval, in 1, 2 and 3 processes, and in 3 that assume they are alone (the
   inference switched off: ``others_share`` forced to 0). Reported: 429 answers to polls (target 0),
   polls per generation (target: within 10 % of 1 process), completion-to-detection latency p50
   (target: within 20 % of 1 process), generations completed and detected, and the share of the
   key's spending each process inferred the others took (context).
2. Start-up herd: 600 generations whose watchers all start at the same moment in every process (a
   triggerer restart, a redeploy, a mapped task deferring hundreds of decks), on a window that has
   just refilled, with 1, 2 and 3 processes, on a key of 300 and of 150 requests per 10 s; each
   generation completes 20-40 s after the start. Reported: 429 answers to polls (target 0) and, for
   the 300 key, detection latency p50 (target: within 20 % of the same 600 watchers starting over one
   poll interval in one process).
3. The budget's own CPU per poll (one ``acquire`` and one ``observe``, in this process, no I/O); the
   trigger's whole CPU per poll against a bare aiohttp loop is bench_triggers.py's row.

The 429s come from the emulator's recorded requests; detection latency is the watcher's return
(``time.monotonic`` in the child) minus the generation's ``ready_at`` in the emulator (same
system-wide clock). ``--tiny`` (a smoke test of the machinery, not of the limit): the four steady
variants and the herd in 2 processes with n=20 and an interval of 0.25 s.
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

BEFORE = "382df8a budget"
#: label -> (processes, child parameters)
STEADY: dict[str, tuple[int, dict[str, Any]]] = {
    "1 process": (1, {}),
    "2 processes": (2, {}),
    "3 processes": (3, {}),
    "3 processes, each assuming it is alone": (3, {"assume_alone": True}),
    f"1 process, {BEFORE}": (1, {"budget": "before"}),
    f"2 processes, {BEFORE}": (2, {"budget": "before"}),
    f"3 processes, {BEFORE}": (3, {"budget": "before"}),
}
TINY_STEADY = ("1 process", "2 processes", "3 processes", "3 processes, each assuming it is alone")
SPREAD = "300 per 10 s, 1 process, watchers starting over one poll interval"
#: label -> (requests per 10 s, processes, whether the watchers start over one poll interval, child
#: parameters)
HERD: dict[str, tuple[int, int, bool, dict[str, Any]]] = {
    SPREAD: (300, 1, True, {}),
    **{
        f"{limit} per 10 s, {k} process{'es' if k > 1 else ''}{suffix}": (limit, k, False, child)
        for limit in (300, 150)
        for k in (1, 2, 3)
        for suffix, child in (("", {}), (f", {BEFORE}", {"budget": "before"}))
    },
}
TINY_HERD = ("300 per 10 s, 2 processes",)


def run_processes(
    processes: int, params: dict[str, Any], emulator_kwargs: dict[str, Any], child: dict[str, Any]
) -> dict[str, Any]:
    """Run ``processes`` watch children at once against one emulator; merge what they measured."""
    n = params["n"]
    shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    with Emulator(**emulator_kwargs) as emulator, temp_home("gamma-bench-shared-") as home:
        env = bench_env(home, {"AIRFLOW_CONN_GAMMA_DEFAULT": emulator.connection_uri})
        start_at = time.time() + params["start_delay_s"]
        child = dict(child)
        if "create_s" in params:  # the herd watches from one moment, on a window that had time to refill
            child["watch_at"] = start_at + params["create_s"] + params["burst_window_s"] + 1
        child_params = [
            dict(
                params,
                variant="ours",
                n=share,
                create_rate=params["create_rate"] / processes,
                start_at=start_at,
                **child,
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
        for one in children:
            detected.update(one.pop("detected"))
        server = server_side(emulator, ids)
        latencies = detection_latencies(emulator, detected)
        watch_from = child.get("watch_at", start_at)
        refused_at = sorted(
            round(record["time"] - watch_from, 1)
            for record in emulator.control("GET", "/_emulator/requests", timeout=120)
            if record["status"] == 429 and record["method"] == "GET"
        )
    return {
        "processes": processes,
        "child": child,
        "n": len(ids),
        "completed_detected": sum(1 for g in detected if g in ids),
        "successes": sum(one["statuses"].get("success", 0) for one in children),
        "server": server,
        "latency_s": {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "n": len(latencies)},
        "polls_refused_at_s": refused_at,  # seconds after the start (the herd: after watch_at)
        "children": children,
    }


def herd_params(tiny: bool, limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """600 watchers (tiny: 20) on a key of ``limit`` requests per 10 s (tiny: 200 per 1 s, so the
    15 s slow-down below 100 left never starts)."""
    window = 1.0 if tiny else 10.0
    limit = 200 if tiny else limit
    params: dict[str, Any] = {
        "n": 20 if tiny else 600,
        "interval": 0.25 if tiny else 5.0,
        "ready_in": [1.0, 2.0] if tiny else [20.0, 40.0],
        "deadline_s": 20.0 if tiny else 180.0,
        "burst_limit": limit,
        "burst_window_s": window,
        "create_rate": 0.8 * limit / window,
        "start_delay_s": 15.0 if tiny else 30.0,
    }
    params["create_s"] = params["n"] / params["create_rate"] + (2 if tiny else 15)
    params["create_timeout_s"] = params["create_s"] * 3 + 60
    emulator_kwargs = {
        "generation_seconds": 60.0,
        "burst_limit": limit,
        "burst_window_seconds": window,
        "hourly_limit": 100_000_000,
        "daily_limit": 100_000_000,
    }
    return params, emulator_kwargs


def budget_cpu_us(budget_class: type, polls: int = 200_000) -> float:
    """CPU microseconds of one ``acquire`` plus one ``observe``, on a key that is never spent."""
    from airflow_provider_gamma.protocol import RateLimit

    answers = [RateLimit(limit_burst=10_000, remaining_burst=10_000 - i) for i in range(1, 5_001)]
    budget = budget_class()
    began = time.process_time()
    for i in range(polls):
        ticket, _ = budget.acquire(i * 0.001)
        budget.observe(ticket, answers[i % 5_000])
    return (time.process_time() - began) / polls * 1e6


def steady_rows(result: ModuleResult, runs: dict[str, dict[str, Any]], n: int) -> None:
    one, alone = runs["1 process"], runs["3 processes, each assuming it is alone"]
    for label in ("2 processes", "3 processes"):
        ours, before = runs[label], runs.get(f"{label}, {BEFORE}")
        before_one = runs.get(f"1 process, {BEFORE}")
        k = ours["processes"]
        was = (
            f"; {BEFORE}: {refused(before):.0f} of {before['server']['polls']}" if before is not None else ""
        )
        polls_was = (
            f"; {BEFORE}: {polls(before):.2f} (1 process {polls(before_one):.2f})"
            if before is not None and before_one is not None
            else ""
        )
        p50_was = f"; {BEFORE}: {p50(before):.1f} s" if before is not None else ""
        rows = [
            (
                "429s seen by pollers",
                "responses",
                refused(ours),
                refused(alone),
                "3 processes, each assuming it is alone",
                "0",
                refused(ours) == 0,
                f"of {ours['server']['polls']} polls{was}",
            ),
            (
                "polls per generation (mean)",
                "polls",
                polls(ours),
                polls(one),
                "1 process",
                "within 10 % of 1 process",
                abs(polls(ours) - polls(one)) <= 0.10 * polls(one),
                f"max {ours['server']['polls_per_generation_max']}{polls_was}",
            ),
            (
                "completion-to-detection latency p50",
                "s",
                p50(ours),
                p50(one),
                "1 process",
                "within 20 % of 1 process",
                abs(p50(ours) - p50(one)) <= 0.20 * p50(one),
                f"p99 {ours['latency_s']['p99']:.1f} s, 1 process {one['latency_s']['p99']:.1f} s{p50_was}",
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


def herd_rows(result: ModuleResult, runs: dict[str, dict[str, Any]]) -> None:
    spread = runs.get(SPREAD)
    for label, ours in runs.items():
        if BEFORE in label or label == SPREAD:
            continue
        before = runs.get(f"{label}, {BEFORE}", ours)  # (--tiny runs no "before")
        first_10s = sum(1 for at in ours["polls_refused_at_s"] if at < 10)
        first_10s_before = sum(1 for at in before["polls_refused_at_s"] if at < 10)
        result.rows.append(
            Row(
                "shared_key",
                f"start-up herd, {label}: 429s seen by pollers",
                "responses",
                refused(ours),
                refused(before),
                BEFORE,
                "0",
                refused(ours) == 0,
                f"in the first 10 s {first_10s} ({BEFORE}: {first_10s_before}); of {ours['server']['polls']} "
                f"polls; {ours['successes']} of {ours['n']} detected",
            )
        )
        if spread is not None and label.startswith("300"):
            result.rows.append(
                Row(
                    "shared_key",
                    f"start-up herd, {label}: completion-to-detection latency p50",
                    "s",
                    p50(ours),
                    p50(spread),
                    "1 process, starts spread",
                    "within 20 % of starts spread",
                    abs(p50(ours) - p50(spread)) <= 0.20 * p50(spread),
                    f"{BEFORE}: {p50(before):.1f} s; polls per generation {polls(ours):.2f} "
                    f"({BEFORE}: {polls(before):.2f}, starts spread {polls(spread):.2f})",
                )
            )


def refused(run: dict[str, Any]) -> float:
    return float(run["server"]["rate_limited_429"])


def polls(run: dict[str, Any]) -> float:
    return float(run["server"]["polls_per_generation_mean"])


def p50(run: dict[str, Any]) -> float:
    return float(run["latency_s"]["p50"])


def settled_share(run: dict[str, Any]) -> float:
    values = [c["others_share"]["mean"] for c in run["children"] if c["others_share"]]
    return sum(values) / len(values) if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    params, emulator_kwargs = over_subscribed(args.tiny)
    # time for the children to import, warm up and reach the common start moment
    params["start_delay_s"] = 15.0 if args.tiny else 30.0
    started = time.perf_counter()
    result = ModuleResult("shared_key", dict(params, emulator=emulator_kwargs))
    steady: dict[str, dict[str, Any]] = {}
    for label, (processes, child) in STEADY.items():
        if args.tiny and label not in TINY_STEADY:
            continue
        print(f"shared_key: {label}, {params['n']} generations ...", file=sys.stderr)
        steady[label] = run_processes(processes, params, emulator_kwargs, child)
    steady_rows(result, steady, params["n"])

    herd: dict[str, dict[str, Any]] = {}
    for label, (limit, processes, spread, child) in HERD.items():
        if args.tiny and label not in TINY_HERD:
            continue
        herd_p, herd_emulator = herd_params(args.tiny, limit)
        herd_p["start_spread"] = herd_p["interval"] if spread else 0.0
        print(f"shared_key: {label}, {herd_p['n']} generations ...", file=sys.stderr)
        herd[label] = run_processes(processes, herd_p, herd_emulator, child)
        herd[label]["params"] = herd_p
    herd_rows(result, herd)

    from _budget_before import RateBudget382df8a

    from airflow_provider_gamma.protocol import RateBudget

    polls_ = 20_000 if args.tiny else 200_000
    cpu_after, cpu_before = budget_cpu_us(RateBudget, polls_), budget_cpu_us(RateBudget382df8a, polls_)
    result.rows.append(
        Row(
            "shared_key",
            "rate budget CPU per poll (acquire + observe, no I/O)",
            "µs",
            cpu_after,
            cpu_before,
            BEFORE,
            "-",
            None,
            "the trigger's whole CPU per poll: the triggers rows",
        )
    )
    result.details = {"runs": steady, "herd": herd}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
