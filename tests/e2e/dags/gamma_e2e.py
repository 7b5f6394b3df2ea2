# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""DAG run by tests/e2e against a real scheduler and triggerer (and the in-process Gamma emulator)."""

from __future__ import annotations

import inspect
from typing import Any

from airflow.sdk import DAG

from airflow_provider_gamma.operators.gamma import GammaGenerateOperator


def _accepts(operator: type, keyword: str) -> bool:
    return any(
        keyword in inspect.signature(cls.__init__).parameters
        for cls in operator.__mro__
        if "__init__" in vars(cls)
    )


# Poll fast, so the tests wait seconds: the first poll too, where the operator lets us choose it
# (its default waits 10 s before the first poll of a deferred generation).
FAST: dict[str, Any] = {"poll_interval": 1}
if _accepts(GammaGenerateOperator, "first_poll_delay"):
    FAST["first_poll_delay"] = 1

with DAG(dag_id="gamma_e2e_deferrable", schedule=None, catchup=False, tags=["e2e"]):
    GammaGenerateOperator(
        task_id="generate",
        # The run id makes each run's POST identifiable in the emulator; the conf can append an
        # emulator marker, e.g. "[[emulator:seconds=15]]" for a longer generation.
        input_text="E2E deck for {{ run_id }} {{ dag_run.conf.get('marker', '') }}",
        num_cards=3,
        deferrable=True,
        timeout=300,
        retries=0,
        **FAST,
    )
