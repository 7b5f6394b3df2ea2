# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Deck analytics: daily views of the decks, landed for the warehouse.

Every day at 06:00 London time this DAG

1. picks the decks to measure: the Airflow Variable ``gamma_analytics_gamma_ids`` (a JSON list of gamma
   ids) when it is set, else the API key's user's decks that Gamma's search finds for
   ``Weekly sales report`` (the ``weekly_report_deck`` example's decks),
2. fetches each deck's analytics, per-card analytics and viewers (every page) from Gamma and lands them
   as one JSON-lines file, e.g. ``s3://bucket/decks/analytics/2026-11-23/deck-analytics.jsonl``, all at
   once (a failure part-way leaves no file), viewers' e-mail addresses hashed,
3. emits the ``gamma_deck_analytics`` asset: a warehouse-load DAG scheduled on it reads the file's URI
   from the asset event's ``extra["uris"]``.

Gamma answers a deck's analytics only to a key whose user may edit it; with edit but not manage
permission the figures cover only that user's own views (the task logs a warning; rows say
``"scope": "self"``).

Configuration (nothing is read from Airflow's database or the network when the file is parsed):

* Airflow Variable ``gamma_analytics_gamma_ids``: the decks, e.g. ``["g_abc123", "g_def456"]``.
* Airflow Variable ``gamma_decks_dest`` or environment ``GAMMA_DECKS_DEST``: where files land (default
  ``demo-output/`` next to this DAG folder); environment ``GAMMA_DECKS_CONN_ID``: its connection.
* environment ``GAMMA_CONN_ID``: the Gamma connection (default ``gamma_default``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, Variable, dag, task

from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.analytics import GammaAnalyticsToObjectStorageOperator

LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None
SEARCH = "Weekly sales report"

# The warehouse load schedules on this asset; its events carry the landed file's URI.
DECK_ANALYTICS = Asset("gamma_deck_analytics")


def decks_root() -> str:
    """Where files land. Called while rendering templates (at run time), so the Variable lookup is fine."""
    root = Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
    return root.rstrip("/")


@dag(
    schedule="0 6 * * *",  # daily, 06:00 London time (Gamma's analytics lag about an hour)
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"decks_root": decks_root},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["gamma", "example"],
)
def deck_analytics() -> None:
    @task
    def decks_to_measure() -> list[str]:
        """The Variable's gamma ids, else the decks Gamma's search finds (one request, at most 25)."""
        listed = Variable.get("gamma_analytics_gamma_ids", default=None, deserialize_json=True)
        if listed:
            return [str(gamma_id) for gamma_id in listed]
        hits = GammaHook(GAMMA_CONN_ID).search_gammas(SEARCH, created_by="me", limit=25)
        return [hit["id"] for hit in hits]

    GammaAnalyticsToObjectStorageOperator(
        task_id="land_analytics",
        gamma_conn_id=GAMMA_CONN_ID,
        gamma_ids=decks_to_measure(),
        dest="{{ decks_root() }}/analytics/{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
        "/deck-analytics.jsonl",
        dest_conn_id=DEST_CONN_ID,
        viewer_identity="hash",  # the warehouse gets emailSha256, not people's addresses
        outlets=[DECK_ANALYTICS],  # the asset event's extra: {"uris", "gamma_ids", "records", ...}
    )


deck_analytics()
