# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""DAG run by tests/e2e against a real scheduler and triggerer (and the in-process Gamma emulator)."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator, GammaGenerateOperator

with DAG(dag_id="gamma_e2e_deferrable", schedule=None, catchup=False, tags=["e2e"]):
    GammaGenerateOperator(
        task_id="generate",
        # The run id makes each run's POST identifiable in the emulator; the conf can append an
        # emulator marker, e.g. "[[emulator:seconds=15]]" for a longer generation.
        input_text="E2E deck for {{ run_id }} {{ dag_run.conf.get('marker', '') }}",
        num_cards=3,
        deferrable=True,
        timeout=300,
        retries=0,
        poll_interval=1,
        first_poll_delay=1,  # the default (10 s) would make the test wait
        # The emulator's decks take seconds: a lost POST answer's deck shows within this window, and
        # the quiet period a found deck must stay unchanged shrinks with it (60 s by default).
        reconcile_window=15,
    )

with DAG(dag_id="gamma_e2e_agent", schedule=None, catchup=False, tags=["e2e"]):
    agent_deck = GammaAgentGenerateOperator(
        task_id="agent_deck",
        prompt="E2E agent deck for {{ run_id }}",
        source_urls=["https://example.com/weekly-figures"],
        num_cards=3,
        export_as="pptx",
        deferrable=True,
        timeout=300,
        retries=0,
        poll_interval=1,
        first_poll_delay=1,
        # The agent's lost answer is settled only by the window's end (with no reference in the
        # title, every gamma changed since the POST is a candidate); 20 min by default.
        reconcile_window=20,
    )
    # The same gamma as PDF: a new export of it, waited for in the triggerer, then landed.
    GammaExportToObjectStorageOperator(
        task_id="land_pdf",
        generation_id=agent_deck.output,
        export_as="pdf",
        dest="{{ dag_run.conf['dest'] }}/agent-deck.pdf",
        deferrable=True,
        poll_interval=1,
        retries=0,
    )
