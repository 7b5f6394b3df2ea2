# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""50 mapped deferrable generations, for the production-topology test (Celery workers, two triggerers)."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

DECKS = 50

with DAG(dag_id="gamma_topology_mapped", schedule=None, catchup=False, tags=["e2e"]):
    GammaGenerateOperator.partial(
        task_id="generate",
        num_cards=2,
        deferrable=True,
        retries=0,
        poll_interval=1,
        first_poll_delay=1,
    ).expand(input_text=[f"Regional deck {i} for {{{{ run_id }}}}" for i in range(DECKS)])
