"""DAGs of benchmarks/bench_slot_seconds.py: one Gamma generation waited for two ways.

* ``gamma_bench_slot_deferrable``: ``GammaGenerateOperator(deferrable=True)``; the wait happens in the
  triggerer.
* ``gamma_bench_slot_requests``: a ``PythonOperator`` running the "generate and wait" loop with
  ``requests`` (POST, then GET every ``poll_interval`` seconds until the generation is completed),
  holding its worker slot throughout.

``GAMMA_BENCH_POLL_INTERVAL`` (seconds, default 5) sets both poll intervals.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

POLL_INTERVAL = float(os.environ.get("GAMMA_BENCH_POLL_INTERVAL", "5"))
INPUT_TEXT = "Quarterly review: revenue, churn, hiring plan"


def generate_and_wait(poll_interval: float = POLL_INTERVAL, timeout: float = 1800.0) -> dict[str, Any]:
    """The documented requests loop: POST /v1.0/generations, then GET every 5 s until it ends."""
    import requests
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection("gamma_default")
    base = str(conn.host).rstrip("/")
    headers = {"X-API-KEY": str(conn.password), "Content-Type": "application/json"}
    response = requests.post(
        f"{base}/v1.0/generations",
        json={"inputText": INPUT_TEXT, "textMode": "generate", "numCards": 5},
        headers=headers,
        timeout=30,
    )
    response.raise_for_status()
    generation_id = response.json()["generationId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(poll_interval)
        status = requests.get(f"{base}/v1.0/generations/{generation_id}", headers=headers, timeout=30)
        status.raise_for_status()
        generation: dict[str, Any] = status.json()
        if generation["status"] == "completed":
            return generation
        if generation["status"] == "failed":
            raise RuntimeError(f"generation {generation_id} failed: {generation}")
    raise TimeoutError(f"generation {generation_id} still pending after {timeout} s")


with DAG("gamma_bench_slot_deferrable", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    GammaGenerateOperator(
        task_id="generate",
        input_text=INPUT_TEXT,
        num_cards=5,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )

with DAG("gamma_bench_slot_requests", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    PythonOperator(task_id="generate", python_callable=generate_and_wait)

with DAG("gamma_bench_slot_warmup", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    # Run once before measuring, so both measured tasks start in a warm worker, as in a busy deployment.
    PythonOperator(task_id="generate", python_callable=lambda: None)
