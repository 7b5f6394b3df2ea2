# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Test DAGs: the generate operator deferrable and in-process, and the sensor after a fire-and-return."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor

START = pendulum.datetime(2026, 1, 5, tz="UTC")

for deferrable in (True, False):
    with DAG(
        f"gamma_generate_{'deferrable' if deferrable else 'in_process'}", schedule=None, start_date=START
    ):
        GammaGenerateOperator(
            task_id="generate",
            input_text="Revenue for {{ ds }}: 1.2M",
            num_cards="{{ params.cards }}",
            export_as="pdf",
            deferrable=deferrable,
            poll_interval=0.5,
            first_poll_delay=0.5,
            params={"cards": 4},
        )

with DAG("gamma_generate_then_sense", schedule=None, start_date=START):
    start = GammaGenerateOperator(task_id="start", input_text="Weekly", wait_for_completion=False)
    GammaGenerationSensor(
        task_id="wait",
        generation_id="{{ ti.xcom_pull('start', key='generation_id') }}",
        deferrable=True,
        poke_interval=0.5,
    ).set_upstream(start)
