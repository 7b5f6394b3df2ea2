# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""One deck per region, generated in parallel with dynamic task mapping, each landed as its own PPTX.

``plan_decks`` returns one small dict per region (its input text and destination). The generate task is
mapped over them: with ``deferrable=True`` every mapped instance submits its generation and then waits
in the triggerer, so all regions are generated at the same time without holding worker slots. The
export task is mapped over the finished generations, paired with each region's destination, so the files
land as ``<dest>/<ds>/regions/<region>.pptx``.

Configuration as in ``weekly_report_deck.py``: Variable ``gamma_decks_dest`` or environment
``GAMMA_DECKS_DEST`` (where decks land), environment ``GAMMA_DECKS_CONN_ID`` and ``GAMMA_CONN_ID``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Variable, dag, task

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None
REGIONS = ["North", "South", "East", "West"]


@dag(
    schedule="30 7 * * 1",  # Mondays 07:30 London time
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["gamma", "example"],
)
def regional_decks() -> None:
    @task
    def plan_decks(dag_run: Any = None) -> list[dict[str, Any]]:
        """One entry per region: what to generate and where it lands. Runs at run time, so it may read
        Variables (or query a warehouse) freely."""
        # A run triggered by hand has no logical date in Airflow 3; it still has run_after.
        ds = (dag_run.logical_date or dag_run.run_after).date().isoformat()
        root = (
            Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
        )
        return [
            {
                "region": region,
                "input_text": f"{region} region: weekly update for the week of {ds}. Sales against "
                "target, top accounts, pipeline, and next week's priorities.",
                "dest": f"{root.rstrip('/')}/{ds}/regions/{region.lower()}.pptx",
            }
            for region in REGIONS
        ]

    plan = plan_decks()

    # .partial() holds what all regions share, .expand() creates one task instance per region.
    generate = GammaGenerateOperator.partial(
        task_id="generate_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        num_cards=6,
        export_as="pptx",
        deferrable=True,
        # Label mapped instances with the region in the UI instead of 0, 1, 2...
        map_index_template="{{ task.input_text.split(':')[0] }}",
    ).expand(input_text=plan.map(lambda deck: deck["input_text"]))

    def export_kwargs(pair: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        generation, deck = pair
        return {"generation_id": generation, "dest": deck["dest"]}

    # zip() pairs the n-th generation with the n-th plan entry (both follow the map index order).
    GammaExportToObjectStorageOperator.partial(
        task_id="land_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        dest_conn_id=DEST_CONN_ID,
        if_exists="overwrite",
    ).expand_kwargs(generate.output.zip(plan).map(export_kwargs))


regional_decks()
