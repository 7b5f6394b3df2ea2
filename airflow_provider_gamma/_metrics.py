# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The provider's metrics, sent through Airflow's own stats client: whatever ``[metrics]`` sends
Airflow's metrics (StatsD, Datadog, OpenTelemetry) sends these too, under its prefix (``airflow.``
by default). Nothing is sent while metrics are off.

========================  =======  ==========================================================  ==========================
name                      type     what                                                        tags
========================  =======  ==========================================================  ==========================
gamma.credits.deducted    counter  credits Gamma deducted for a deck (completed or failed)     dag_id, task_id, conn_id
gamma.credits.remaining   gauge    the workspace's credits left, as reported with a deck       dag_id, task_id, conn_id
gamma.credits.low         counter  a deck left fewer credits than ``credits_warning_below``    dag_id, task_id, conn_id
gamma.decks.completed     counter  a generate task returned a finished deck (settled too)      dag_id, task_id, conn_id
gamma.decks.failed        counter  a generation Gamma reported failed                          dag_id, task_id, conn_id
gamma.settlements         counter  a deck found by search after its POST's answer was lost     dag_id, task_id, conn_id
gamma.polls               counter  an answer to a status poll (generation, agent or export)    conn_id
gamma.rate_limited        counter  a 429 answer to any request                                 conn_id
========================  =======  ==========================================================  ==========================

Polls and 429s are counted where each answer arrives (``hooks/_transport.py``), in workers and the
triggerer alike; there no task is known, so they carry the connection only. Plain StatsD drops tags
unless ``[metrics] statsd_influxdb_enabled`` is on; Datadog and OpenTelemetry keep them.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from airflow_provider_gamma.protocol import API_PREFIX, ApiRequest

CREDITS_DEDUCTED = "gamma.credits.deducted"
CREDITS_REMAINING = "gamma.credits.remaining"
CREDITS_LOW = "gamma.credits.low"
DECKS_COMPLETED = "gamma.decks.completed"
DECKS_FAILED = "gamma.decks.failed"
SETTLEMENTS = "gamma.settlements"
POLLS = "gamma.polls"
RATE_LIMITED = "gamma.rate_limited"

log = logging.getLogger(__name__)

#: The status reads of a job: a classic or agent generation, an export.
_POLL = re.compile(rf"^{re.escape(API_PREFIX)}/(?:(?:agent/)?generations|exports)/[^/]+$")


@functools.cache
def _stats() -> Any:
    """Airflow's stats client, wherever this Airflow keeps it (the order common-compat uses)."""
    try:  # Airflow >= 3.3: the Task SDK's, set up in task and triggerer processes
        from airflow.sdk.observability.stats import Stats
    except ImportError:
        try:
            from airflow.observability.stats import Stats  # type: ignore[assignment]
        except ImportError:  # Airflow 3.1
            from airflow.stats import Stats  # type: ignore[no-redef,unused-ignore]
    return Stats


def _tags(tags: dict[str, str | None]) -> dict[str, str]:
    return {key: str(value) for key, value in tags.items() if value}


def _value(value: float) -> float:
    return int(value) if value == int(value) else value  # 8, not 8.0, on the wire


def count(name: str, value: float = 1, /, **tags: str | None) -> None:
    """Add ``value`` to the counter ``name``; a metrics backend that fails never fails the caller."""
    try:
        _stats().incr(name, _value(value), tags=_tags(tags))
    except Exception:  # a metric is never worth a task
        log.debug("Could not send metric %s", name, exc_info=True)


def gauge(name: str, value: float, /, **tags: str | None) -> None:
    """Set the gauge ``name`` to ``value``."""
    try:
        _stats().gauge(name, _value(value), tags=_tags(tags))
    except Exception:
        log.debug("Could not send metric %s", name, exc_info=True)


def count_answer(request: ApiRequest, status: int, *, conn_id: str | None) -> None:
    """Count one answer from Gamma: a poll when it answers a status read, a 429 whatever it answers."""
    if request.method == "GET" and _POLL.match(request.path):
        count(POLLS, conn_id=conn_id)
    if status == 429:
        count(RATE_LIMITED, conn_id=conn_id)
