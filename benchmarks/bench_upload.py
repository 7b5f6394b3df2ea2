"""Uploading a file for the agent with ``GammaHook.upload_file``: peak memory against the file's size,
and throughput.

What is measured
----------------
The emulator (own process) receives ``POST /v1.0/uploads`` and hashes the body as it arrives; every
upload's size and sha256 are checked against the file's. Files of random bytes on local disk, a
small and a large one (full size: 20 MiB and 200 MiB; ``--tiny``: 1 and 10 MiB). Each upload runs in a
FRESH subprocess, after one un-timed upload of a 1 KiB file (imports, the session, the connection
lookup: one-off costs, not the upload's):

* ours: ``GammaHook().upload_file(path)``: the file read 64 KiB at a time as the socket takes it, sent
  with its ``Content-Length``. Peak RSS growth = the process's peak RSS during the upload (``VmHWM``,
  reset just before it) - its RSS just before it; in a separate run, the peak of Python allocations
  (``tracemalloc``) during the upload.
* baselines: the same upload by a client that reads the file whole first (``requests.post(url,
  data=path.read_bytes())``: memory grows with the file), and, for throughput, ``curl -T`` (streams
  the file with its length) to the same emulator.

``REPEATS`` (3) runs of each, taking turns; peak memory is the largest of the runs, throughput the
median. Targets: the large file's peak RSS growth <= 16 MiB and within 4 MiB of the small file's
(memory independent of the size); tracemalloc peak within 1 MiB of the small file's; throughput >= 0.8x
curl's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import API_KEY, Emulator, ModuleResult, Row, bench_env, cli, run_child, write_result

MIB = 1024 * 1024
REPEATS = 3
RSS_TARGET_MIB = 16.0
FLAT_RSS_MIB = 4.0
FLAT_TRACEMALLOC_MIB = 1.0
THROUGHPUT_RATIO = 0.8

_OURS = """
import json, sys, time, tracemalloc
from airflow_provider_gamma.hooks.gamma import GammaHook
from _common import rss_bytes, peak_rss_bytes, reset_peak_rss
path, warm, mode = sys.argv[1], sys.argv[2], sys.argv[3]
hook = GammaHook()
hook.upload_file(warm)  # imports, session, connection lookup: one-off costs
if mode == "tracemalloc":
    tracemalloc.start()
reset_peak_rss()
rss0 = rss_bytes()
t0 = time.perf_counter()
upload = hook.upload_file(path)
wall = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] if mode == "tracemalloc" else None
print(json.dumps({"wall_s": wall, "rss0": rss0, "maxrss": peak_rss_bytes(), "traced_peak": peak,
                  "upload_id": upload["uploadId"]}))
"""

_WHOLE = """
import json, sys, time
from pathlib import Path
import requests
from _common import rss_bytes, peak_rss_bytes, reset_peak_rss
path, url, key = sys.argv[1], sys.argv[2], sys.argv[3]
session = requests.Session()
session.trust_env = False
headers = {"X-API-KEY": key, "Content-Type": "application/octet-stream"}
session.post(url, data=b"warm", headers=headers, timeout=60).raise_for_status()
reset_peak_rss()
rss0 = rss_bytes()
t0 = time.perf_counter()
answer = session.post(url, data=Path(path).read_bytes(), headers=headers, timeout=600)
answer.raise_for_status()
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "rss0": rss0, "maxrss": peak_rss_bytes(), "upload_id": answer.json()["uploadId"]}))
"""


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as stream:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            stream.write(block)
    return digest.hexdigest()


def _curl(path: Path, url: str, timeout: float) -> dict[str, Any]:
    command = [
        "curl", "-s", "-f", "--noproxy", "*", "-X", "POST", "-T", str(path),
        "-H", f"X-API-KEY: {API_KEY}", "-H", "Content-Type: application/octet-stream", url,
    ]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return {"wall_s": time.perf_counter() - t0, "upload_id": json.loads(done.stdout)["uploadId"]}


def _take_turns(
    runners: dict[str, Callable[[], dict[str, Any]]], repeats: int
) -> dict[str, list[dict[str, Any]]]:
    """Run each runner ``repeats`` times, in turns, reversing the order every other turn."""
    trials: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
    for turn in range(repeats):
        for name in list(runners) if turn % 2 == 0 else list(reversed(runners)):
            print(f"upload: {name} ({turn + 1}/{repeats}) ...", file=sys.stderr)
            trials[name].append(runners[name]())
    return trials


def _growth(runs: list[dict[str, Any]]) -> float:
    return max(run["maxrss"] - run["rss0"] for run in runs) / MIB


def _median_wall(runs: list[dict[str, Any]]) -> float:
    return float(sorted(run["wall_s"] for run in runs)[len(runs) // 2])


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the baseline (apt-get install -y curl)")
    small, large = (1 * MIB, 10 * MIB) if args.tiny else (20 * MIB, 200 * MIB)
    repeats = 1 if args.tiny else REPEATS
    timeout = 120 if args.tiny else 900
    started = time.perf_counter()
    result = ModuleResult("upload", {"small_bytes": small, "large_bytes": large, "repeats": repeats})
    with (
        Emulator(generation_seconds=0.2, record=False) as emulator,
        tempfile.TemporaryDirectory(prefix="gamma-bench-upload-") as work,
    ):
        env = bench_env(Path(work) / "airflow", {"AIRFLOW_CONN_GAMMA_DEFAULT": emulator.connection_uri})
        warm = Path(work) / "warm.bin"
        warm.write_bytes(os.urandom(1024))
        files = {size: Path(work) / f"{size // MIB}mib.bin" for size in (small, large)}
        expected = {size: _random_file(path, size) for size, path in files.items()}
        url = f"{emulator.base_url}/v1.0/uploads?filename=bench.bin"
        sent: list[tuple[str, int]] = []

        def ours(size: int, mode: str) -> Callable[[], dict[str, Any]]:
            def run() -> dict[str, Any]:
                result = run_child(["-c", _OURS, str(files[size]), str(warm), mode], env, timeout)
                sent.append((result["upload_id"], size))
                return result

            return run

        def whole() -> dict[str, Any]:
            result = run_child(["-c", _WHOLE, str(files[large]), url, API_KEY], env, timeout)
            sent.append((result["upload_id"], large))
            return result

        def curl() -> dict[str, Any]:
            result = _curl(files[large], url, timeout)
            sent.append((result["upload_id"], large))
            return result

        trials = _take_turns(
            {
                "ours_small": ours(small, "rss"),
                "ours_large": ours(large, "rss"),
                "ours_small_traced": ours(small, "tracemalloc"),
                "ours_large_traced": ours(large, "tracemalloc"),
                "whole_large": whole,
                "curl_large": curl,
            },
            repeats,
        )
        received = emulator.control("GET", "/_emulator/uploads")
        byte_exact = all(
            received[upload_id]["size"] == size and received[upload_id]["sha256"] == expected[size]
            for upload_id, size in sent
        )

    growth_small, growth_large = _growth(trials["ours_small"]), _growth(trials["ours_large"])
    traced_small = max(run["traced_peak"] for run in trials["ours_small_traced"]) / MIB
    traced_large = max(run["traced_peak"] for run in trials["ours_large_traced"]) / MIB
    note = "" if byte_exact else "UPLOADED BYTES DID NOT MATCH"
    mib = f"{large / MIB:,.0f} MiB"
    result.rows.append(
        Row(
            "upload",
            f"peak RSS growth, {mib} file ({small / MIB:,.0f} MiB file: {growth_small:.2f} MiB)",
            "MiB",
            growth_large,
            _growth(trials["whole_large"]),
            "requests.post of the file read whole",
            f"<= {RSS_TARGET_MIB:g} MiB and within {FLAT_RSS_MIB:g} MiB of the small file's",
            growth_large <= RSS_TARGET_MIB and growth_large <= growth_small + FLAT_RSS_MIB,
            note,
        )
    )
    result.rows.append(
        Row(
            "upload",
            f"tracemalloc peak, {mib} file",
            "MiB",
            traced_large,
            traced_small,
            f"same upload, {small / MIB:,.0f} MiB file",
            f"within {FLAT_TRACEMALLOC_MIB:g} MiB of the small file's",
            traced_large <= traced_small + FLAT_TRACEMALLOC_MIB,
            note,
        )
    )
    ours_wall, curl_wall = _median_wall(trials["ours_large"]), _median_wall(trials["curl_large"])
    result.rows.append(
        Row(
            "upload",
            f"throughput, {mib} file",
            "MiB/s",
            large / MIB / ours_wall,
            large / MIB / curl_wall,
            "curl -T (streams, same emulator)",
            f">= {THROUGHPUT_RATIO:g}x baseline",
            curl_wall / ours_wall >= THROUGHPUT_RATIO,
            f"ratio {curl_wall / ours_wall:.2f}",
        )
    )
    result.details = {"trials": trials, "byte_exact": byte_exact, "uploads": len(sent)}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0 if byte_exact else 1


if __name__ == "__main__":
    sys.exit(main())
