# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The next team's DAG: runs whenever a new weekly deck has landed.

``weekly_report_deck`` lists the ``gamma_weekly_report_deck`` asset in its export task's ``outlets``; the
export operator attaches ``{"uris": [...], "generation_id": ..., "gamma_url": ...}`` to the asset event.
This DAG is scheduled on that asset, reads the event's extra from ``triggering_asset_events`` and checks
the landed file(s) before handing them on (here: logging them; in real life: e-mail, Slack, a CMS...).

Run it by hand with the URIs as conf, e.g.
``airflow dags test on_new_deck -c '{"uris": ["file:///tmp/weekly-report.pptx"]}'``.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, ObjectStoragePath, Param, dag, task

# The same asset as in weekly_report_deck.py (assets are matched by name and URI).
WEEKLY_DECK = Asset("gamma_weekly_report_deck")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None

log = logging.getLogger(__name__)


@dag(
    schedule=[WEEKLY_DECK],  # run once per new asset event
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    # For manual runs only: asset-triggered runs take the URIs from the asset event.
    params={"uris": Param([], type="array", description="deck URIs to pick up (manual runs)")},
    tags=["gamma", "example"],
)
def on_new_deck() -> None:
    @task
    def pick_up_decks(triggering_asset_events: Any = None, params: Any = None) -> list[dict[str, Any]]:
        """The decks this run was triggered for, each checked to exist, with its size."""
        events = triggering_asset_events[WEEKLY_DECK] if triggering_asset_events else []
        decks = [
            {"uri": uri, "gamma_url": event.extra.get("gamma_url"), "generated_by": event.source_dag_id}
            for event in events
            for uri in event.extra.get("uris", [])
        ]
        if not decks:  # a manual run
            decks = [{"uri": uri, "gamma_url": None, "generated_by": None} for uri in params["uris"]]
        if not decks:
            log.warning("No deck to pick up: no asset event, and no 'uris' in the run's conf")
        for deck in decks:
            path = ObjectStoragePath(deck["uri"], conn_id=DEST_CONN_ID)
            deck["size"] = path.size()  # raises FileNotFoundError if the deck is not there
            log.info(
                "New weekly deck: %s (%s bytes), in Gamma: %s", deck["uri"], deck["size"], deck["gamma_url"]
            )
        return decks

    pick_up_decks()


on_new_deck()
