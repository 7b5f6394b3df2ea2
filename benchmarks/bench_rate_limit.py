"""1,000 concurrent generations under a (scaled-down) Gamma rate limit: our trigger vs fixed polling.

Gamma's documented example limits are 40,000 requests per hour and 10,000 per burst window; 1,000
generations polled every 5 s would need 720,000 per hour. This benchmark reproduces that
over-subscription at a scale that runs in minutes: the emulator (own process) enforces
``burst_limit`` requests per ``burst_window_s`` window (full size: 500 per 10 s = a 50 req/s
ceiling; hourly and daily limits are not the bottleneck), while 1,000 watchers polling every 5 s
would need 200 req/s.

What is measured
----------------
For each variant a fresh emulator and a fresh child process (``_watch_child.py``): ``n``
generations are created at ``create_rate`` per second (below the ceiling, 429s retried after
``Retry-After``; generation time ``gen_s`` is longer than the creation phase, so none is ready
before the watchers start), then all are watched at once in one event loop, each watcher starting
after a random offset in ``[0, interval)``:

* ``ours``: ``GammaGenerationTrigger(poll_interval=5).run()``;
* ``fixed 5 s, no pacing``: a bare GET loop on one shared session that polls every 5 s whatever
  the answer (429s included).

Reported, per variant: generations whose completion was detected before ``deadline_s``; 429 answers
to polls (from the emulator's recorded requests); polls per generation (mean, max); and
completion-to-detection latency p50/p99: the time the watcher returned (``time.monotonic`` in the
child) minus the generation's ``ready_at`` (``time.monotonic`` in the emulator, read from
``GET /_emulator/generations``; CLOCK_MONOTONIC is system-wide on Linux, so both clocks agree).
Targets: every generation completes and is detected; zero 429s for ours.

For reference, the budget-paced ideal: ``n`` generations sharing ``ceiling`` req/s can each be polled
once every ``n / ceiling`` seconds, so the mean detection latency cannot be much below half of that.

``--tiny`` (a smoke test of the machinery, not of the limit): n=20, interval 0.25 s, 200 requests per
1 s window (the trigger slows to 15 s polls whenever fewer than 100 requests are left in the window,
so a smaller tiny window would only measure that constant).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from _common import ModuleResult, Row, cli, pct, write_result
from bench_triggers import run_variant

VARIANTS = (("ours", "ours"), ("floor", "fixed 5 s, no pacing"))


def over_subscribed(tiny: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The benchmark's parameters and emulator settings: ``n`` watchers wanting 4x the burst ceiling
    (bench_shared_key.py splits the same load between processes)."""
    if tiny:
        params: dict[str, Any] = {
            "n": 20,
            "gen_s": 4.0,
            "interval": 0.25,
            "deadline_s": 20.0,
            "create_rate": 8.0,
            "burst_limit": 200,
            "burst_window_s": 1.0,
        }
    else:
        params = {
            "n": 1000,
            "gen_s": 40.0,
            "interval": 5.0,
            "deadline_s": 150.0,
            "create_rate": 40.0,
            "burst_limit": 500,
            "burst_window_s": 10.0,
        }
    params["start_spread"] = params["interval"]
    params["create_timeout_s"] = params["n"] / params["create_rate"] * 3 + 60
    ceiling = params["burst_limit"] / params["burst_window_s"]
    params["ceiling_req_per_s"] = ceiling
    params["demand_req_per_s"] = params["n"] / params["interval"]
    params["ideal_mean_latency_s"] = params["n"] / ceiling / 2
    emulator_kwargs = {
        "generation_seconds": params["gen_s"],
        "burst_limit": params["burst_limit"],
        "burst_window_seconds": params["burst_window_s"],
        "hourly_limit": 100_000_000,
        "daily_limit": 100_000_000,
    }
    return params, emulator_kwargs


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    params, emulator_kwargs = over_subscribed(args.tiny)
    started = time.perf_counter()
    result = ModuleResult("rate_limit", dict(params, emulator=emulator_kwargs))
    runs: dict[str, dict[str, Any]] = {}
    for variant, label in VARIANTS:
        print(f"rate_limit: {label} x {params['n']} ...", file=sys.stderr)
        data = run_variant(variant, params, emulator_kwargs)
        latencies = data.pop("detection_latency_s")
        data["latency_s"] = {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "n": len(latencies)}
        runs[label] = data
    ours, fixed = runs["ours"], runs["fixed 5 s, no pacing"]
    n = params["n"]
    base_name = "fixed 5 s, no pacing"

    def completed(r: dict[str, Any]) -> float:
        return float(r["statuses"].get("success", 0))

    rows = [
        ("generations completed and detected", "of N", completed, f"{n}", completed(ours) == n, ""),
        (
            "429s seen by pollers",
            "responses",
            lambda r: float(r["server"]["rate_limited_429"]),
            "0",
            ours["server"]["rate_limited_429"] == 0,
            f"of {ours['server']['polls']} polls (ours) / {fixed['server']['polls']} (fixed)",
        ),
        (
            "polls per generation (mean)",
            "polls",
            lambda r: r["server"]["polls_per_generation_mean"],
            "-",
            None,
            f"max ours {ours['server']['polls_per_generation_max']}, "
            f"fixed {fixed['server']['polls_per_generation_max']}",
        ),
        (
            "completion-to-detection latency p50",
            "s",
            lambda r: r["latency_s"]["p50"],
            "-",
            None,
            f"budget-paced ideal mean ~{params['ideal_mean_latency_s']:.0f} s",
        ),
        ("completion-to-detection latency p99", "s", lambda r: r["latency_s"]["p99"], "-", None, ""),
    ]
    for metric, unit, value, target, passed, note in rows:
        result.rows.append(
            Row("rate_limit", metric, unit, value(ours), value(fixed), base_name, target, passed, note)
        )
    result.details = {"runs": runs}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
