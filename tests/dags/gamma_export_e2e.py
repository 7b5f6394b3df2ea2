# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""generate -> land the export, run by tests/test_export_operator.py under `airflow dags test`.

The destination folder comes from GAMMA_EXPORT_TEST_DEST (a file:// URL ending in "/").
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Asset

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

DEST = os.environ.get("GAMMA_EXPORT_TEST_DEST", "file:///tmp/gamma-export-e2e/")
DECK = Asset(f"{DEST}weekly-report.pptx")

with DAG(dag_id="gamma_export_e2e", schedule=None, catchup=False, tags=["test"]):
    generate = GammaGenerateOperator(
        task_id="generate",
        input_text="Weekly report",
        export_as="pptx",
        poll_interval=0.2,
        deferrable=False,
    )
    GammaExportToObjectStorageOperator(
        task_id="land",
        generation_id=generate.output,
        dest=DEST + "{{ ds }}/weekly-report.pptx",
        outlets=[DECK],
    )
