# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Monthly update deck from a Gamma template, exported as PDF and landed in object storage.

A one-page Gamma template keeps the layout and branding stable from month to month; the prompt carries
this month's content. On the 1st of every month at 08:00 London time this DAG has Gamma "remix" the
template with the prompt, exports a PDF (waiting in the triggerer), and lands it under
``<dest>/<run date>/monthly-update.pdf``, and the same deck as ``monthly-update.pptx`` (a second
export of the gamma, no second generation). The run on the 1st reports on the month before.

Configuration (read at run time through templates, or from the environment):

* Airflow Variable ``gamma_monthly_template_id``: the template gamma's id (from its URL in the Gamma app).
  Default ``g_template_monthly``, a placeholder that only the bundled emulator accepts.
* Airflow Variable ``gamma_decks_dest`` or environment ``GAMMA_DECKS_DEST``: where decks land (default
  ``demo-output/`` next to this DAG folder); environment ``GAMMA_DECKS_CONN_ID``: its connection.
* environment ``GAMMA_CONN_ID``: the Gamma connection (default ``gamma_default``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Variable, dag

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaGenerateFromTemplateOperator

LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None


def decks_root() -> str:
    """Where decks land. Called while rendering templates (at run time), so the Variable lookup is fine."""
    root = Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
    return root.rstrip("/")


# Run on the 1st, so the day before ``ds`` is in the month being reported on.
PROMPT = """\
Monthly update for {{ macros.ds_format(macros.ds_add(ds, -1), "%Y-%m-%d", "%B %Y") }}.
Use the template's layout. Sections: what we shipped, key metrics, risks, next month's focus.
Keep it to the point: three bullets per section at most.
"""


@dag(
    schedule="0 8 1 * *",  # the 1st of each month, 08:00 London time
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"decks_root": decks_root},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["gamma", "example"],
)
def template_deck() -> None:
    generate = GammaGenerateFromTemplateOperator(
        task_id="generate_from_template",
        gamma_conn_id=GAMMA_CONN_ID,
        # Templated: the Variable is read when the task runs, not when the file is parsed.
        gamma_id="{{ var.value.get('gamma_monthly_template_id', 'g_template_monthly') }}",
        prompt=PROMPT,
        export_as="pdf",
        deferrable=True,
    )

    GammaExportToObjectStorageOperator(
        task_id="land_pdf",
        gamma_conn_id=GAMMA_CONN_ID,
        generation_id=generate.output,
        dest="{{ decks_root() }}/{{ (dag_run.logical_date or dag_run.run_after) | ds }}/monthly-update.pdf",
        dest_conn_id=DEST_CONN_ID,
        if_exists="overwrite",
    )

    # The same deck as PPTX, for whoever edits it: a new export of the gamma, not a new generation.
    GammaExportToObjectStorageOperator(
        task_id="land_pptx",
        gamma_conn_id=GAMMA_CONN_ID,
        generation_id=generate.output,
        export_as="pptx",
        dest="{{ decks_root() }}/{{ (dag_run.logical_date or dag_run.run_after) | ds }}/monthly-update.pptx",
        dest_conn_id=DEST_CONN_ID,
        if_exists="overwrite",
        deferrable=True,  # the new export is waited for in the triggerer, not in a worker slot
    )


template_deck()
