"""Import cost of each provider module on top of ``import airflow.sdk`` (what DAG parsing pays).

What is measured
----------------
For each module (``airflow_provider_gamma.operators.gamma``, ``.operators.export``,
``.sensors.gamma``, ``.hooks.gamma``, ``.triggers.gamma``) and for the baseline
``airflow.providers.standard.operators.python`` (PythonOperator, which every Airflow deployment
imports anyway), a FRESH interpreter runs::

    import airflow.sdk            # timed, reported for context
    import <module>               # timed: the cost of the module on top of airflow.sdk

with ``time.perf_counter`` around each import. The first run of each module is an un-counted warm-up
(``.pyc`` files get written); then the median of ``runs`` (>= 5) runs is reported (``--tiny``: one
run of the baseline and of the trigger module only, no warm-up, no ``-X importtime``). Each row is one
module against the baseline; target: <= 30 ms on top of ``airflow.sdk``.

One more run per module with ``python -X importtime`` lists the top offenders: the modules imported
after ``airflow.sdk`` with the largest *self* time (the import's own execution, children excluded)
and the top-level packages whose import (cumulative) cost the most.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import PYTHON, REPO, ModuleResult, Row, bench_env, cli, run_child, write_result

MODULES = (
    "airflow_provider_gamma.operators.gamma",
    "airflow_provider_gamma.operators.export",
    "airflow_provider_gamma.sensors.gamma",
    "airflow_provider_gamma.hooks.gamma",
    "airflow_provider_gamma.triggers.gamma",
)
BASELINE = "airflow.providers.standard.operators.python"
TARGET_MS = 30.0

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
import importlib
importlib.import_module(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"sdk_ms": (t1 - t0) * 1e3, "module_ms": (t2 - t1) * 1e3}))
"""


def _one(module: str, env: dict[str, str]) -> dict[str, float]:
    data = run_child(["-c", _CHILD, module], env, timeout=120)
    return {"sdk_ms": float(data["sdk_ms"]), "module_ms": float(data["module_ms"])}


def _importtime(module: str, env: dict[str, str]) -> dict[str, Any]:
    code = f"import airflow.sdk\nimport {module}\n"
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        env=env,
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    entries: list[tuple[int, int, int, str]] = []  # self_us, cumulative_us, depth, name
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cumulative_us, name = (part.strip() for part in [line[:12], *line[12:].split("|")])
        depth = (len(name) - len(name.lstrip(" "))) // 2
        entries.append((int(self_us), int(cumulative_us), depth, name.strip()))
    start = 0
    for index, (_, _, depth, name) in enumerate(entries):
        if depth == 0 and name == "airflow.sdk":
            start = index + 1
    after = entries[start:]
    by_self = sorted(after, key=lambda entry: entry[0], reverse=True)[:8]
    top_level = sorted((e for e in after if e[2] <= 1), key=lambda entry: entry[1], reverse=True)[:8]
    return {
        "modules_imported_after_sdk": len(after),
        "total_us_after_sdk": sum(e[0] for e in after),
        "top_self": [{"module": e[3], "self_ms": e[0] / 1e3, "cumulative_ms": e[1] / 1e3} for e in by_self],
        "top_cumulative": [{"module": e[3], "cumulative_ms": e[1] / 1e3} for e in top_level],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = cli(__doc__, argv)
    runs = 5 if not args.tiny else 1
    modules = MODULES if not args.tiny else MODULES[-1:]
    started = time.perf_counter()
    result = ModuleResult("import", {"runs": runs, "modules": list(modules), "baseline": BASELINE})
    with tempfile.TemporaryDirectory(prefix="gamma-bench-import-") as home:
        env = bench_env(Path(home))
        measured: dict[str, dict[str, Any]] = {}
        for module in (BASELINE, *modules):
            if not args.tiny:
                _one(module, env)  # warm-up: writes .pyc files, fills the page cache
            samples = [_one(module, env) for _ in range(runs)]
            module_ms = [s["module_ms"] for s in samples]
            measured[module] = {
                "module_ms_median": statistics.median(module_ms),
                "module_ms_all": module_ms,
                "sdk_ms_median": statistics.median(s["sdk_ms"] for s in samples),
                "importtime": _importtime(module, env) if not args.tiny else {"top_self": []},
            }
            print(f"import {module}: {measured[module]['module_ms_median']:.1f} ms", file=sys.stderr)
    baseline_ms = measured[BASELINE]["module_ms_median"]
    for module in modules:
        ours = measured[module]["module_ms_median"]
        offenders = ", ".join(
            f"{item['module']} {item['self_ms']:.1f}"
            for item in measured[module]["importtime"]["top_self"][:3]
        )
        result.rows.append(
            Row(
                benchmark="import",
                metric=f"import {module.removeprefix('airflow_provider_gamma.')} on top of airflow.sdk",
                unit="ms",
                ours=ours,
                baseline=baseline_ms,
                baseline_name="PythonOperator module",
                target=f"<= {TARGET_MS:g} ms",
                passed=ours <= TARGET_MS,
                note=f"top self ms: {offenders}",
            )
        )
    result.details = {"measured": measured}
    result.wall_s = time.perf_counter() - started
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
