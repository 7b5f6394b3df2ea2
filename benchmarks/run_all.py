"""Run every benchmark against the Gamma emulator and write results.json + results.md (``make bench``).

Each ``bench_*.py`` module runs as its own subprocess (so a crash or a leak in one cannot skew the
next) and writes a JSON file; this script merges them into ``<out>/results.json`` (every row, the
per-module details, machine info) and ``<out>/results.md`` (a markdown table for the README
"Performance" section): each row is one metric of ours against a baseline measured in the same run,
with the target and whether it was met.

Full size (default) takes about 70 minutes on 2 cores (47 of them the shared-key module's 20 runs of
one, two or three triggerer processes, before and after) and runs the modules one after another.
``--tiny`` runs each module once at a tiny size (a smoke test, no meaningful numbers); there the
slot-seconds module (which mostly waits for a real Airflow to start) and the shared-key module
(which mostly waits for its processes' common start moment) run alongside the others.

    python benchmarks/run_all.py [--tiny] [--out DIR] [--only triggers,import]

Exit status: 0 when every module ran and wrote its rows (a missed target is reported, not an
error), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import PYTHON, REPO, RESULTS_DIR, fmt, machine_info, stop_process  # noqa: E402

#: module name -> (benchmark key, timeout full, timeout tiny)
MODULES: dict[str, tuple[str, float, float]] = {
    "bench_slot_seconds": ("slot_seconds", 600, 240),
    "bench_shared_key": ("shared_key", 4800, 240),
    "bench_triggers": ("triggers", 600, 120),
    "bench_rate_limit": ("rate_limit", 900, 120),
    "bench_export": ("export", 900, 120),
    "bench_import": ("import", 600, 120),
    "bench_upload": ("upload", 900, 120),
}
#: modules that mostly wait (for Airflow to start, for a common start moment) run alongside the
#: others when tiny
BACKGROUND_WHEN_TINY = {"bench_slot_seconds", "bench_shared_key"}


def _command(module: str, out: Path, tiny: bool) -> list[str]:
    return [PYTHON, str(HERE / f"{module}.py"), "--out", str(out), *(["--tiny"] if tiny else [])]


def _finish(proc: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        return -1


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    verdict = {True: "✅ pass", False: "❌ miss", None: "—"}
    lines = [
        "| benchmark | metric | ours | baseline | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        unit = f" {row['unit']}" if row["unit"] not in ("ratio", "") else ""
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(
            f"| {row['benchmark']} | {row['metric']}{note} | {fmt(row['ours'])}{unit} "
            f"| {fmt(row['baseline'])}{unit} ({row['baseline_name']}) | {row['target']} "
            f"| {verdict[row['passed']]} |"
        )
    machine = meta["machine"]
    lines.append("")
    lines.append(
        f"Measured {meta['finished']} on {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['mem_total']}, Python {machine['python']}, Airflow "
        f"{machine['versions']['apache-airflow']}, aiohttp {machine['versions']['aiohttp']}; "
        f"{'tiny sizes (smoke test)' if meta['tiny'] else 'full size'}; total {meta['wall_s']:.0f} s."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="each benchmark once at a tiny size")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output directory")
    parser.add_argument("--only", default="", help="comma-separated benchmark keys to run")
    args = parser.parse_args(argv)
    only = {key.strip() for key in args.only.split(",") if key.strip()}
    modules = [m for m, (key, _, _) in MODULES.items() if not only or key in only]
    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.out / ("parts-tiny" if args.tiny else "parts")
    parts.mkdir(exist_ok=True)
    started = time.perf_counter()
    status: dict[str, int] = {}
    background: dict[str, subprocess.Popen[bytes]] = {}
    for module in modules:
        key, full_timeout, tiny_timeout = MODULES[module]
        timeout = tiny_timeout if args.tiny else full_timeout
        out = parts / f"{key}.json"
        out.unlink(missing_ok=True)
        command = _command(module, out, args.tiny)
        print(f"== {module}", file=sys.stderr, flush=True)
        if args.tiny and module in BACKGROUND_WHEN_TINY:
            background[module] = subprocess.Popen(command, cwd=str(REPO))
            continue
        t0 = time.perf_counter()
        status[module] = _finish(subprocess.Popen(command, cwd=str(REPO)), timeout)
        print(f"== {module}: exit {status[module]} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for module, proc in background.items():
        status[module] = _finish(proc, MODULES[module][2])
        print(f"== {module}: exit {status[module]}", file=sys.stderr)

    rows: list[dict[str, Any]] = []
    modules_out: dict[str, Any] = {}
    missing: list[str] = []
    for module in modules:
        key = MODULES[module][0]
        path = parts / f"{key}.json"
        if not path.exists():
            missing.append(key)
            modules_out[key] = {"error": f"exit status {status.get(module)}; no results"}
            continue
        data = json.loads(path.read_text())
        data["exit_status"] = status.get(module)
        modules_out[key] = data
        rows.extend(data["rows"])
    meta = {
        "tiny": args.tiny,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "wall_s": time.perf_counter() - started,
        "machine": machine_info(),
    }
    suffix = ".tiny" if args.tiny and args.out == RESULTS_DIR else ""
    (args.out / f"results{suffix}.json").write_text(
        json.dumps({**meta, "rows": rows, "missing": missing, "modules": modules_out}, indent=2, default=str)
        + "\n"
    )
    table = markdown(rows, meta)
    (args.out / f"results{suffix}.md").write_text(table)
    print(table)
    failed = missing or any(code != 0 for code in status.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
