# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""DAGs run by tests/reliability under ``airflow dags test``; each test points the connections
(``AIRFLOW_CONN_*``) at emulators it has set up with the faults of its case.

Every task that must not be retried has ``retries=3`` (and no retry delay): a fail-fast error shows as
one try, a fault ridden out inside the task shows as one successful try.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor

START = pendulum.datetime(2026, 1, 5, tz="UTC")
NO_DELAY = timedelta(0)
FAST: dict[str, Any] = {"poll_interval": 0.2, "first_poll_delay": 0.2}
STORM_DECKS = 10

# --- survived faults --------------------------------------------------------------------------------

# Ten deferrable generations (mapped) in one run while polls meet a 429 storm (with Retry-After), 5xx and drops.
with DAG("rel_storm", schedule=None, start_date=START, default_args={"retries": 3, "retry_delay": NO_DELAY}):
    GammaGenerateOperator.partial(task_id="generate", deferrable=True, **FAST).expand(
        input_text=[f"Regional deck {i:02d}: figures for region {i:02d}" for i in range(STORM_DECKS)]
    )

# A read that hangs is cut by the connection's timeout and polled again, in the triggerer and in-process.
with DAG(
    "rel_read_hang", schedule=None, start_date=START, default_args={"retries": 3, "retry_delay": NO_DELAY}
):
    GammaGenerateOperator(
        task_id="deferred", input_text="Hang A", gamma_conn_id="gamma_hang", deferrable=True, **FAST
    )
    GammaGenerateOperator(task_id="in_process", input_text="Hang B", gamma_conn_id="gamma_hang", **FAST)


class _CrashWhileWaiting(GammaGenerateOperator):
    """Try 1 dies while waiting in-process, after Gamma accepted the generation (a lost worker)."""

    def execute(self, context: Any) -> Any:
        if context["ti"].try_number == 1:

            def crash(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("simulated worker crash while waiting for the Gamma generation")

            self.hook.wait_for_generation = crash  # type: ignore[method-assign]
        return super().execute(context)


class _CrashAfterCompletion(GammaGenerateOperator):
    """Try 1 dies after the generation completed, before the task could succeed."""

    def _finish(self, context: Any, generation: Any) -> Any:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash after the generation completed")
        return super()._finish(context, generation)


# Tries that end before the task succeeds; each task gets one retry, which must not pay again.
with DAG(
    "rel_retries", schedule=None, start_date=START, default_args={"retries": 1, "retry_delay": NO_DELAY}
):
    # The wait times out (the generation takes 5 s, the task waits 3 s); the retry re-attaches.
    GammaGenerateOperator(
        task_id="timeout",
        input_text="Quarterly review [[emulator:seconds=5]]",
        deferrable=True,
        timeout=3,
        poll_interval=0.5,
        first_poll_delay=0.5,
    )
    _CrashWhileWaiting(task_id="crash_while_waiting", input_text="Crash while waiting", **FAST)
    _CrashAfterCompletion(task_id="crash_after_completion", input_text="Crash after completion", **FAST)
    # The test fails the first generation; resubmit_failed=True lets the retry pay for a second one.
    GammaGenerateOperator(
        task_id="resubmit_failed",
        input_text="Resubmit me [[emulator:seconds=1]]",
        resubmit_failed=True,
        **FAST,
    )


# Expired export URL, 5xx, dropped and truncated downloads and a slow export host: the deck lands whole.
with DAG(
    "rel_export_faults", schedule=None, start_date=START, default_args={"retries": 3, "retry_delay": NO_DELAY}
):
    _deck = GammaGenerateOperator(task_id="generate", input_text="Export me", export_as="pdf", **FAST)
    GammaExportToObjectStorageOperator(
        task_id="land",
        generation_id=_deck.output,
        dest=os.environ.get("RELIABILITY_DEST", "file:///tmp/gamma-reliability/") + "deck.pdf",
        download_retry_policy=RetryPolicy(max_attempts=8, backoff=0.1, jitter=False),
    )

# A POST whose answer is lost (Gamma started the deck), then the deck is landed: settled by its reference.
with DAG(
    "rel_uncertain_post",
    schedule=None,
    start_date=START,
    default_args={"retries": 3, "retry_delay": NO_DELAY},
):
    for _mode, _deferrable in (("in_worker", False), ("deferred", True)):
        _found = GammaGenerateOperator(
            task_id=f"generate_{_mode}",
            input_text=f"Weekly figures ({_mode})",
            export_as="pdf",
            deferrable=_deferrable,
            reconcile_window=4,
            **FAST,
        )
        GammaExportToObjectStorageOperator(
            task_id=f"land_{_mode}",
            generation_id=_found.output,
            dest=os.environ.get("RELIABILITY_DEST", "file:///tmp/gamma-reliability/") + f"{_mode}.pdf",
        )

# --- fail fast -------------------------------------------------------------------------------------

# One task per error no retry can fix; each has retries=3 and must end failed after exactly one try.
with DAG(
    "rel_fail_fast", schedule=None, start_date=START, default_args={"retries": 3, "retry_delay": NO_DELAY}
):
    GammaGenerateOperator(task_id="bad_key", input_text="Deck", gamma_conn_id="gamma_bad_key", **FAST)
    GammaGenerateOperator(task_id="no_credits", input_text="Deck", gamma_conn_id="gamma_no_credits", **FAST)
    GammaGenerateOperator(task_id="no_permission", input_text="Deck", gamma_conn_id="gamma_forbidden", **FAST)
    GammaGenerateOperator(task_id="rejected_400", input_text="Deck", extra_body={"slideCount": 5}, **FAST)
    GammaGenerateOperator(
        task_id="rejected_422", input_text="Deck", gamma_conn_id="gamma_unprocessable", **FAST
    )
    GammaGenerateOperator(task_id="failed_generation", input_text="Board deck [[emulator:fail]]", **FAST)
    GammaGenerateOperator(
        task_id="failed_generation_deferred",
        input_text="Board deck (deferred) [[emulator:fail]]",
        deferrable=True,
        **FAST,
    )
    GammaGenerationSensor(task_id="unknown_generation", generation_id="gen_does_not_exist", poke_interval=0.2)
    GammaGenerateOperator(
        task_id="post_timeout",
        input_text="Deck",
        gamma_conn_id="gamma_post_hangs",
        reconcile=False,  # with it, the deck is found (test_money_path_dags.py)
        **FAST,
    )
