# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Weekly report deck: figures from a data file -> a Gamma presentation -> a PPTX in object storage.

Every Monday at 07:00 London time this DAG

1. computes last week's sales figures from ``data/weekly_sales.csv`` (stand-in for your warehouse query),
2. renders them into the deck's input text with Jinja,
3. has Gamma generate a presentation and export it as PPTX, waiting in the triggerer (deferrable),
4. lands the PPTX under a date-partitioned path, e.g. ``s3://bucket/decks/2026-11-23/weekly-report.pptx``,
   and emits the ``gamma_weekly_report_deck`` asset, which starts ``on_new_deck``,
5. logs the Gamma URL and where the deck landed.

Configuration (nothing is read from Airflow's database or the network when the file is parsed):

* Airflow Variable ``gamma_decks_dest`` or environment variable ``GAMMA_DECKS_DEST``: where decks land, e.g.
  ``s3://my-bucket/decks``. Default: ``demo-output/`` next to this DAG folder, as a ``file://`` URI.
* environment ``GAMMA_DECKS_CONN_ID``: the Airflow connection for that destination (e.g. ``aws_default``).
* environment ``GAMMA_CONN_ID``: the Gamma connection (default ``gamma_default``).
"""

from __future__ import annotations

import csv
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Asset, Variable, dag, task

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

DATA_FILE = Path(__file__).parent / "data" / "weekly_sales.csv"
# Absolute and computed from this file, never from the current directory (which differs per process).
LOCAL_DEST = (Path(__file__).resolve().parent.parent / "demo-output").as_uri()
GAMMA_CONN_ID = os.environ.get("GAMMA_CONN_ID", "gamma_default")
DEST_CONN_ID = os.environ.get("GAMMA_DECKS_CONN_ID") or None

# Consumers schedule on this asset (see on_new_deck.py); its events carry the landed URIs.
WEEKLY_DECK = Asset("gamma_weekly_report_deck")

log = logging.getLogger(__name__)


def decks_root() -> str:
    """Where decks land. Called while rendering templates (at run time), so the Variable lookup is fine."""
    root = Variable.get("gamma_decks_dest", default=None) or os.environ.get("GAMMA_DECKS_DEST") or LOCAL_DEST
    return root.rstrip("/")


# The deck's input text. ``---`` lines split cards (card_split="inputTextBreaks").
INPUT_TEXT = """\
{% set f = ti.xcom_pull(task_ids="weekly_figures") -%}
# Weekly sales report: week of {{ f.week_start }}
Revenue £{{ "{:,.0f}".format(f.revenue) }} ({{ "{:+.1f}".format(f.revenue_change_pct) }}% on the week before), \
{{ f.orders }} orders, {{ f.new_customers }} new customers.
---
# Revenue by region
| Region | Revenue | Orders | New customers | vs week before |
|---|---|---|---|---|
{% for r in f.regions -%}
| {{ r.region }} | £{{ "{:,.0f}".format(r.revenue) }} | {{ r.orders }} | {{ r.new_customers }} \
| {{ "{:+.1f}".format(r.change_pct) }}% |
{% endfor -%}
---
# Highlights
- Fastest growing region: {{ f.fastest_region }}
- Slowest region: {{ f.slowest_region }}
- Average order value: £{{ "{:,.2f}".format(f.revenue / f.orders) }}
"""


@dag(
    schedule="0 7 * * 1",  # Mondays 07:00, in the start_date's time zone (DST-aware)
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    user_defined_macros={"decks_root": decks_root},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["gamma", "example"],
)
def weekly_report_deck() -> None:
    @task
    def weekly_figures(data_interval_end: pendulum.DateTime | None = None) -> dict[str, Any]:
        """Last week's totals and per-region figures, compared with the week before."""
        with DATA_FILE.open(newline="") as file:
            rows = list(csv.DictReader(file))
        weeks = sorted({row["week_start"] for row in rows})
        # The newest full week before this run; the sample file is fixed, so fall back to its newest week.
        run_day = (data_interval_end or pendulum.now("UTC")).date()
        done = [week for week in weeks if pendulum.parse(week).date().add(days=7) <= run_day]
        week = done[-1] if done else weeks[-1]
        before = weeks[weeks.index(week) - 1] if weeks.index(week) > 0 else None

        def totals(week_start: str | None) -> dict[str, dict[str, float]]:
            return {
                row["region"]: {
                    "revenue": float(row["revenue_gbp"]),
                    "orders": int(row["orders"]),
                    "new_customers": int(row["new_customers"]),
                }
                for row in rows
                if row["week_start"] == week_start
            }

        this, last = totals(week), totals(before)

        def change(now: float, then: float | None) -> float:
            return round(100 * (now - then) / then, 1) if then else 0.0

        regions = [
            {
                "region": name,
                **figures,
                "change_pct": change(figures["revenue"], last.get(name, {}).get("revenue")),
            }
            for name, figures in sorted(this.items(), key=lambda item: -item[1]["revenue"])
        ]
        revenue = round(sum(r["revenue"] for r in regions), 2)
        return {
            "week_start": week,
            "revenue": revenue,
            "revenue_change_pct": change(revenue, sum(r["revenue"] for r in last.values()) or None),
            "orders": sum(r["orders"] for r in regions),
            "new_customers": sum(r["new_customers"] for r in regions),
            "regions": regions,
            "fastest_region": max(regions, key=lambda r: r["change_pct"])["region"],
            "slowest_region": min(regions, key=lambda r: r["change_pct"])["region"],
        }

    figures = weekly_figures()

    generate = GammaGenerateOperator(
        task_id="generate_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        input_text=INPUT_TEXT,  # rendered by Jinja at run time
        text_mode="preserve",  # keep our numbers exactly; Gamma does the design
        card_split="inputTextBreaks",
        additional_instructions="A concise business review; one chart on the regional slide.",
        export_as="pptx",  # the export operator downloads this file
        deferrable=True,  # wait in the triggerer, not in a worker slot
        timeout=timedelta(minutes=30),
    )
    figures >> generate

    land = GammaExportToObjectStorageOperator(
        task_id="land_deck",
        gamma_conn_id=GAMMA_CONN_ID,
        generation_id=generate.output,  # the generation Gamma returned
        dest="{{ decks_root() }}/{{ (dag_run.logical_date or dag_run.run_after) | ds }}/weekly-report.pptx",
        dest_conn_id=DEST_CONN_ID,
        if_exists="overwrite",  # a re-run of the same week replaces its deck
        outlets=[WEEKLY_DECK],  # the asset event's extra: {"uris", "generation_id", "gamma_url"}
    )

    @task
    def announce(generation: dict[str, Any], landed: list[dict[str, Any]]) -> str:
        """Log where people can find this week's deck; replace with Slack/e-mail as you like."""
        log.info("This week's deck in Gamma: %s", generation["gammaUrl"])
        for file in landed:
            log.info("Deck landed at %s (%s bytes, sha256 %s)", file["uri"], file["size"], file["sha256"])
        return str(generation["gammaUrl"])

    announce(generate.output, land.output)


weekly_report_deck()
