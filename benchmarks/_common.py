"""Shared helpers of the benchmark modules: the emulator in a separate process, rows, machine info.

Every ``bench_*.py`` module is a script with the same interface::

    python benchmarks/bench_x.py [--tiny] --out results/bench_x.json

and writes ``{"benchmark": name, "params": {...}, "rows": [Row, ...], "details": {...}}``, where each
row is one metric of *ours* against a *baseline* measured in the same run, with the target and whether
it was met (``passed`` is ``None`` for rows that have no target and are reported for context only).
``run_all.py`` runs the modules one after another as subprocesses and merges their files.

Only loopback traffic is generated; every helper that waits has a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
API_KEY = "sk-gamma-bench"
REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable


@dataclass
class Row:
    """One metric: ours vs a baseline measured in the same run."""

    benchmark: str
    metric: str
    unit: str
    ours: float | None
    baseline: float | None
    baseline_name: str
    target: str
    passed: bool | None
    note: str = ""


@dataclass
class ModuleResult:
    benchmark: str
    params: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "params": self.params,
            "rows": [asdict(row) for row in self.rows],
            "details": self.details,
            "wall_s": self.wall_s,
            "machine": machine_info(),
        }


def cli(description: str | None, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: runs in seconds (smoke test)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    return parser.parse_args(argv)


def write_result(result: ModuleResult, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    for row in result.rows:
        verdict = {True: "PASS", False: "MISS", None: "-"}[row.passed]
        print(
            f"[{row.benchmark}] {row.metric}: ours={fmt(row.ours)} {row.unit} "
            f"{row.baseline_name}={fmt(row.baseline)} target {row.target} -> {verdict}",
            file=sys.stderr,
        )


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


# --- statistics -----------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": float(len(values)),
        "p50": pct(values, 50),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
    }


def rss_bytes() -> int:
    """Current resident set size of this process (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def maxrss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def reset_peak_rss() -> None:
    """Start this process's peak RSS (``VmHWM``) afresh from its current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def peak_rss_bytes() -> int:
    """This process's peak RSS since :func:`reset_peak_rss` (or its start): ``VmHWM``."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# --- machine --------------------------------------------------------------------------------------


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total = ""
    with contextlib.suppress(OSError):
        mem_total = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "mem_total": mem_total,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
        "versions": {
            name: _version(name)
            for name in (
                "apache-airflow",
                "apache-airflow-task-sdk",
                "airflow-provider-gamma",
                "aiohttp",
                "requests",
                "s3fs",
                "boto3",
                "moto",
            )
        },
    }


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a benchmark child: private AIRFLOW_HOME, no inherited Airflow settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env["AIRFLOW_HOME"] = str(home)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent), str(REPO), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM ``proc`` (by its own pid), then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=grace)


def run_child(
    args: Sequence[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> dict[str, Any]:
    """Run a Python child that prints one JSON object as its last stdout line; return that object."""
    proc = subprocess.run(
        [PYTHON, *args],
        env=env,
        cwd=str(cwd or REPO),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"child {' '.join(args[:2])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    data: dict[str, Any] = json.loads(lines[-1])
    return data


class Emulator:
    """The Gamma emulator in its own process (CLI), so its CPU never counts against the client."""

    def __init__(
        self,
        *,
        generation_seconds: float,
        burst_limit: int = 1_000_000,
        burst_window_seconds: float = 60.0,
        hourly_limit: int = 100_000_000,
        daily_limit: int = 100_000_000,
        export_padding_bytes: int = 0,
        record: bool = True,
    ) -> None:
        self.args = [
            "-m",
            "airflow_provider_gamma.testing.emulator",
            "--host",
            HOST,
            "--port",
            "0",
            "--export-port",
            "0",
            "--api-key",
            API_KEY,
            "--generation-seconds",
            str(generation_seconds),
            "--credits",
            "1000000000",
            "--burst-limit",
            str(burst_limit),
            "--burst-window-seconds",
            str(burst_window_seconds),
            "--hourly-limit",
            str(hourly_limit),
            "--daily-limit",
            str(daily_limit),
            "--export-padding-bytes",
            str(export_padding_bytes),
        ]
        if not record:
            self.args.append("--no-record")
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._home = tempfile.TemporaryDirectory(prefix="gamma-bench-emu-")

    def __enter__(self) -> Emulator:
        self.proc = subprocess.Popen(
            [PYTHON, *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=bench_env(Path(self._home.name)),
            cwd=str(REPO),
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.5):
                    line = self.proc.stdout.readline()
                    if line.startswith("{"):
                        self.info = json.loads(line)
                        return self
                    if not line and self.proc.poll() is not None:
                        break
                if self.proc.poll() is not None:
                    break
        self.__exit__(None, None, None)
        raise RuntimeError("the Gamma emulator did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        self._home.cleanup()

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def connection_uri(self) -> str:
        return str(self.info["connection_uri"])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def control(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        return http_json(method, f"{self.base_url}{path}", body, timeout=timeout)


def http_json(
    method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None, timeout: float = 60.0
) -> Any:
    """A loopback JSON call with urllib (no proxies)."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"refusing non-loopback URL {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310 loopback only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of another process so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def temp_home(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        yield Path(home)
