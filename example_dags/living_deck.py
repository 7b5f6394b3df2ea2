# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A living board deck: one deck, one link, this week's numbers every Monday.

Instead of a new deck (and a new link) each week, this DAG keeps one standing gamma current:

1. computes last week's figures per region from ``data/weekly_sales.csv`` (stand-in for your warehouse)
   and writes them as a CSV next to the decks (``<dest>/figures/<run date>.csv``),
2. has the Gamma 5 agent edit the standing board deck in place, with the CSV uploaded as the agent's
   source (``files=``: streamed from object storage to Gamma, never whole in memory); the edit waits in
   the triggerer (deferrable) and is never paid twice (a lost answer is settled by reading the deck),
3. lands a fresh PDF of the edited deck under ``<dest>/<run date>/board-deck.pdf``.

The standing deck is the gamma whose id is in the Airflow Variable ``gamma_board_deck``. The first run
without it makes the deck once (a classic generation, billed once) and stores its id there; every run
after that edits it.

Configuration (read at run time):

* Airflow Variable ``gamma_board_deck``: the standing deck's gamma id (made by the first run if unset).
* Airflow Variable ``gamma_decks_dest`` or environment ``GAMMA_DECKS_DEST``: where the figures and the PDF
  land (default ``demo-output/`` next to this DAG folder); environment ``GAMMA_DECKS_CONN_ID``: its
  connection, used both to write the CSV and to read it for the upload.
* environment ``GAMMA_CONN_ID``: the Gamma connection (default ``gamma_default``).
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import ObjectStoragePath, Variable, dag, task

from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.edit import GammaAgentEditOperator
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator

DATA_FILE = Path(__file__).parent / "data" / "weekly_sales.csv"
LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None
BOARD_DECK_VARIABLE = "gamma_board_deck"
#: The first run's generation of the deck while it is being made (so a retry does not pay again).
MAKING_VARIABLE = "gamma_board_deck_generation"


def decks_root() -> str:
    """Where figures and decks land. Called at run time (tasks, templates), so the Variable lookup is fine."""
    root = Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
    return root.rstrip("/")


@dag(
    schedule="0 7 * * 1",  # Mondays 07:00 London time, before the board reads it
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,  # Gamma runs one edit per gamma at a time
    user_defined_macros={"decks_root": decks_root},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["gamma", "example"],
)
def living_deck() -> None:
    @task
    def weekly_figures(data_interval_end: pendulum.DateTime | None = None) -> str:
        """Last full week's revenue and orders per region, written as a CSV; returns its URI."""
        with DATA_FILE.open(newline="") as file:
            rows = list(csv.DictReader(file))
        run_day = (data_interval_end or pendulum.now("UTC")).date()
        weeks = sorted({row["week_start"] for row in rows})
        done = [week for week in weeks if pendulum.parse(week).date().add(days=7) <= run_day]
        week = done[-1] if done else weeks[-1]
        revenue: dict[str, float] = defaultdict(float)
        orders: dict[str, int] = defaultdict(int)
        for row in rows:
            if row["week_start"] == week:
                revenue[row["region"]] += float(row["revenue_gbp"])
                orders[row["region"]] += int(row["orders"])
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["week_start", "region", "revenue_gbp", "orders"])
        for region in sorted(revenue):
            writer.writerow([week, region, f"{revenue[region]:.2f}", orders[region]])
        path = ObjectStoragePath(f"{decks_root()}/figures/{run_day.isoformat()}.csv", conn_id=DEST_CONN_ID)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.getvalue())
        return str(path)

    @task
    def board_deck() -> str:
        """The standing deck's gamma id; the first run makes the deck once and remembers it."""
        gamma_id = Variable.get(BOARD_DECK_VARIABLE, default=None)
        if gamma_id:
            return str(gamma_id)
        hook = GammaHook(GAMMA_CONN_ID)
        # The generation is noted before waiting, so a retry waits for this deck rather than paying
        # for another; a POST whose answer is lost fails without a retry (GammaSubmissionUncertainError).
        generation_id = Variable.get(MAKING_VARIABLE, default=None) or hook.create_generation(
            "Board deck\nWeekly sales per region, kept current every Monday.",
            text_mode="generate",
            num_cards=4,
            title="Board deck",
        )
        Variable.set(MAKING_VARIABLE, generation_id)
        generation = hook.wait_for_generation(generation_id, timeout=1200)
        Variable.set(MAKING_VARIABLE, "")  # finished either way: the next try starts afresh
        if generation["status"] != "completed":
            raise RuntimeError(f"Gamma could not make the board deck: {generation.get('error')}")
        Variable.set(BOARD_DECK_VARIABLE, generation["gammaId"])
        return str(generation["gammaId"])

    figures = weekly_figures()
    edit = GammaAgentEditOperator(
        task_id="update_board_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        gamma_id=board_deck(),
        prompt=(
            "Update this deck with the attached weekly figures for the week ending "
            "{{ data_interval_end | ds }}: replace last week's numbers on every card, keep the layout, "
            "and add one sentence on what moved."
        ),
        files=[figures],
        files_conn_id=DEST_CONN_ID,
        quality="standard",
        deferrable=True,  # an edit is an agent run: wait in the triggerer, not in a worker slot
    )

    GammaExportToObjectStorageOperator(
        task_id="land_pdf",
        gamma_conn_id=GAMMA_CONN_ID,
        generation_id="{{ ti.xcom_pull(task_ids='update_board_deck', key='generation_id') }}",
        export_as="pdf",
        dest="{{ decks_root() }}/{{ (dag_run.logical_date or dag_run.run_after) | ds }}/board-deck.pdf",
        dest_conn_id=DEST_CONN_ID,
        if_exists="overwrite",
    ).set_upstream(edit)


living_deck()
