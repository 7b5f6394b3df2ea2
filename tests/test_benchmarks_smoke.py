"""Smoke test of the benchmark suite: ``benchmarks/run_all.py --tiny`` runs every benchmark once.

No timing is asserted (the sizes are tiny and CI machines are noisy); only that every benchmark ran
against the emulator and reported its rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import airflow
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("slot_seconds", "triggers", "rate_limit", "export", "import", "shared_key", "upload")


@pytest.mark.skipif(
    not airflow.__version__.startswith("3.3"),
    reason="the benchmarks measure the newest Airflow (make bench runs in .venv, Airflow 3.3)",
)
@pytest.mark.timeout(300)
def test_run_all_tiny_writes_every_benchmark(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["missing"] == []
    present = {row["benchmark"] for row in results["rows"]}
    assert present == set(BENCHMARKS)
    assert set(results["modules"]) == set(BENCHMARKS)
    assert (tmp_path / "results.md").read_text().startswith("| benchmark |")
