# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Board update by the Gamma 5 agent: this week's figures plus your own pages, as a PPTX.

Every Monday at 08:00 London time this DAG

1. sums last week's figures per region from ``data/weekly_sales.csv`` (stand-in for your warehouse),
2. gives them to the Gamma 5 agent as a brief, with the pages it should read for context
   (``source_urls``: your strategy page, last quarter's report ...); the agent plans, writes and
   designs the deck, waiting in the triggerer (deferrable),
3. lands the PPTX under ``<dest>/<run date>/board-update.pptx``.

Use the classic :class:`~airflow_provider_gamma.operators.gamma.GammaGenerateOperator` (see
``weekly_report_deck``) when the numbers must stay word for word (``text_mode="preserve"``) or you want
a webpage; use the agent when Gamma should write the story around them.

Configuration (read at run time through templates, or from the environment):

* environment ``GAMMA_AGENT_SOURCE_URLS``: up to 10 http(s) pages for the agent to read, separated by
  spaces. Default: the UK's official retail sales statistics, as market context for our figures.
* Airflow Variable ``gamma_decks_dest`` or environment ``GAMMA_DECKS_DEST``: where decks land (default
  ``demo-output/`` next to this DAG folder); environment ``GAMMA_DECKS_CONN_ID``: its connection.
* environment ``GAMMA_CONN_ID``: the Gamma connection (default ``gamma_default``).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Variable, dag, task

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator

DATA_FILE = Path(__file__).parent / "data" / "weekly_sales.csv"
LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None
SOURCE_URLS = os.environ.get(
    "GAMMA_AGENT_SOURCE_URLS", "https://www.ons.gov.uk/businessindustryandtrade/retailindustry"
).split()


def decks_root() -> str:
    """Where decks land. Called while rendering templates (at run time), so the Variable lookup is fine."""
    root = Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
    return root.rstrip("/")


@dag(
    schedule="0 8 * * 1",  # Mondays 08:00 London time
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"decks_root": decks_root},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["gamma", "example"],
)
def agent_deck() -> None:
    @task
    def brief(data_interval_end: pendulum.DateTime | None = None) -> str:
        """The agent's brief: the newest full week's revenue and orders per region, as plain lines."""
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
        lines = [
            f"- {region}: £{revenue[region]:,.0f} revenue, {orders[region]} orders" for region in revenue
        ]
        return (
            f"A short board update on sales in the week of {week}.\n"
            f"Total revenue £{sum(revenue.values()):,.0f} from {sum(orders.values())} orders.\n"
            "By region:\n" + "\n".join(lines) + "\n"
            "Explain what moved, and end with one slide of questions for the board."
        )

    generate = GammaAgentGenerateOperator(
        task_id="generate_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        prompt=brief(),
        num_cards=6,
        quality="standard",
        source_urls=SOURCE_URLS or None,
        additional_instructions="Audience: the board. Formal, few words per card, one chart.",
        export_as="pptx",
        deferrable=True,  # agent runs take minutes: wait in the triggerer, not in a worker slot
    )

    GammaExportToObjectStorageOperator(
        task_id="land_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        generation_id=generate.output,
        dest="{{ decks_root() }}/{{ (dag_run.logical_date or dag_run.run_after) | ds }}/board-update.pptx",
        dest_conn_id=DEST_CONN_ID,
    )


agent_deck()
