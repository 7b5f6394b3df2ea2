"""1,000 concurrent generations watched by GammaGenerationTrigger.run() coroutines in ONE event loop.

The triggerer runs every trigger of a deployment as a coroutine in one asyncio loop, so what one
trigger costs (CPU per poll, loop stalls, memory, TCP connections, polls) decides how many
generations one triggerer can watch.

What is measured
----------------
For each variant a fresh Gamma emulator starts in its own process (generation ``gen_s`` seconds,
Gamma's documented example limits: 10,000 requests per 60 s burst window, 40,000 per hour) and a
fresh child process (``_watch_child.py``, see its docstring for the phases) creates ``n``
generations, then watches all of them at once in one event loop, each watcher starting after a
random offset in ``[0, interval)`` and polling every ``interval`` seconds:

* ``ours``: ``GammaGenerationTrigger(generation_id, poll_interval=interval, end_time=...).run()``
  (``first_poll_delay`` left at the trigger's default);
* ``session-per-poll``: the baseline trigger of ``_watch_child.py`` (a new ``ClientSession`` per poll);
* ``floor``: a bare loop of GETs on one shared ``aiohttp.ClientSession``.

Metrics: CPU per poll = child CPU seconds in the watch phase / polls the emulator received in that
phase (target: ours <= 1.5x floor); event-loop lag p50/p99 (target: p99 <= 20 ms); memory per
watcher = peak RSS growth / n; TCP connections opened, counted in the client process by wrapping
``loop.create_connection`` (the emulator does not record connections); polls per generation, counted
by the emulator from its recorded requests (target: max <= ceil(gen_s / interval) + 1); 429 answers
the emulator sent (target: 0); generations whose completion was seen.

Full size: n=1000, gen_s=20, interval=5 (about 40 s per variant). ``--tiny``: n=20, gen_s=1,
interval=0.25.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import Emulator, ModuleResult, Row, bench_env, cli, run_child, temp_home, write_result

VARIANTS = ("ours", "session-per-poll", "floor")
CHILD = str(Path(__file__).resolve().parent / "_watch_child.py")


def server_side(emulator: Emulator, ids: set[str]) -> dict[str, Any]:
    """Polls per generation and status counts, from the emulator's recorded requests."""
    records = emulator.control("GET", "/_emulator/requests", timeout=120)
    polls: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for record in records:
        if record["method"] != "GET" or not record["path"].startswith("/v1.0/generations/"):
            continue
        generation_id = record["path"].rsplit("/", 1)[1]
        if generation_id in ids:
            polls[generation_id] += 1
            statuses[int(record["status"] or 0)] += 1
    per_generation = [polls[g] for g in ids]
    return {
        "polls": sum(per_generation),
        "polls_per_generation_mean": sum(per_generation) / max(1, len(per_generation)),
        "polls_per_generation_max": max(per_generation, default=0),
        "polls_per_generation_hist": dict(sorted(Counter(per_generation).items())),
        "status_counts": {str(k): v for k, v in statuses.items()},
        "rate_limited_429": statuses.get(429, 0),
        "posts_429": sum(1 for r in records if r["method"] == "POST" and r["status"] == 429),
    }


def detection_latencies(emulator: Emulator, detected: dict[str, float]) -> list[float]:
    generations = emulator.control("GET", "/_emulator/generations", timeout=120)
    return [
        max(0.0, at - float(generations[g]["ready_at"])) for g, at in detected.items() if g in generations
    ]


def run_variant(variant: str, params: dict[str, Any], emulator_kwargs: dict[str, Any]) -> dict[str, Any]:
    with Emulator(**emulator_kwargs) as emulator, temp_home("gamma-bench-trig-") as home:
        env = bench_env(home, {"AIRFLOW_CONN_GAMMA_DEFAULT": emulator.connection_uri})
        child = run_child(
            [CHILD, json.dumps(dict(params, variant=variant))],
            env,
            timeout=params["deadline_s"] + params.get("create_timeout_s", 120) + 120,
        )
        ids = set(child["detected"]) | set()
        # Every created generation counts, detected or not: re-read them from the emulator.
        all_generations = emulator.control("GET", "/_emulator/generations", timeout=120)
        ids = {g for g in all_generations if g != child["warm_id"]}
        child["server"] = server_side(emulator, ids)
        latencies = detection_latencies(emulator, child["detected"])
        child["detection_latency_s"] = latencies
        child["completed_detected"] = sum(1 for g in child["detected"] if g in ids)
        child.pop("detected")
    return child


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    if args.tiny:
        params = {"n": 20, "gen_s": 1.0, "interval": 0.25, "deadline_s": 20.0}
    else:
        params = {"n": 1000, "gen_s": 20.0, "interval": 5.0, "deadline_s": 90.0}
    params["start_spread"] = params["interval"]
    emulator_kwargs = {
        "generation_seconds": params["gen_s"],
        "burst_limit": 10_000,
        "burst_window_seconds": 60.0,
        "hourly_limit": 40_000,
    }
    started = time.perf_counter()
    result = ModuleResult("triggers", dict(params, emulator=emulator_kwargs))
    runs: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        print(f"triggers: {variant} x {params['n']} ...", file=sys.stderr)
        runs[variant] = run_variant(variant, params, emulator_kwargs)
        runs[variant]["cpu_ms_per_poll"] = (
            runs[variant]["cpu_s"] * 1000.0 / max(1, runs[variant]["server"]["polls"])
        )
    ours, naive, floor = runs["ours"], runs["session-per-poll"], runs["floor"]
    n = params["n"]
    max_polls = math.ceil(params["gen_s"] / params["interval"]) + 1

    def row(
        metric: str,
        unit: str,
        value: Any,
        base: dict[str, Any],
        base_name: str,
        target: str,
        passed: bool | None,
        note: str = "",
    ) -> None:
        result.rows.append(
            Row("triggers", metric, unit, value(ours), value(base), base_name, target, passed, note)
        )

    cpu = ours["cpu_ms_per_poll"]
    row(
        "CPU per poll",
        "ms",
        lambda r: r["cpu_ms_per_poll"],
        floor,
        "floor: bare GET loop, shared session",
        "<= 1.5x floor",
        cpu <= 1.5 * floor["cpu_ms_per_poll"],
        f"session-per-poll: {naive['cpu_ms_per_poll']:.3f} ms",
    )
    row(
        "event-loop lag p99",
        "ms",
        lambda r: r["loop_lag_ms"]["p99"],
        naive,
        "session-per-poll trigger",
        "<= 20 ms",
        ours["loop_lag_ms"]["p99"] <= 20.0,
        f"p50 ours {ours['loop_lag_ms']['p50']:.2f} ms; floor p99 {floor['loop_lag_ms']['p99']:.1f} ms",
    )
    row(
        "memory per trigger (peak RSS growth / N)",
        "KiB",
        lambda r: r["rss_growth_bytes"] / 1024.0 / max(1, r["n"]),
        naive,
        "session-per-poll trigger",
        "-",
        None,
        f"floor {floor['rss_growth_bytes'] / 1024.0 / max(1, floor['n']):.1f} KiB",
    )
    row(
        "TCP connections opened",
        "conns",
        lambda r: float(r["connections_opened"]),
        naive,
        "session-per-poll trigger",
        "-",
        None,
        f"floor {floor['connections_opened']}; client-side count of loop.create_connection",
    )
    row(
        "polls per generation (max)",
        "polls",
        lambda r: float(r["server"]["polls_per_generation_max"]),
        naive,
        "session-per-poll trigger",
        f"<= {max_polls}",
        ours["server"]["polls_per_generation_max"] <= max_polls,
        f"mean ours {ours['server']['polls_per_generation_mean']:.2f}",
    )
    row(
        "429s seen (Gamma's documented limits)",
        "responses",
        lambda r: float(r["server"]["rate_limited_429"]),
        naive,
        "session-per-poll trigger",
        "0",
        ours["server"]["rate_limited_429"] == 0,
    )
    row(
        "generations completed and detected",
        "of N",
        lambda r: float(r["statuses"].get("success", 0)),
        naive,
        "session-per-poll trigger",
        f"{n}",
        ours["statuses"].get("success", 0) == n,
    )
    for data in runs.values():
        lat = data.pop("detection_latency_s")
        data["detection_latency_s_summary"] = {
            "p50": sorted(lat)[len(lat) // 2] if lat else None,
            "max": max(lat) if lat else None,
        }
    result.details = {"runs": runs}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
