# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The few places where Airflow 3.1, 3.2 and 3.3 differ, in one module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:  # Airflow >= 3.2
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef,assignment]

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
    "conf",
    "task_state_store",
]


def task_state_store(context: Context) -> Any | None:
    """The task state store (Airflow >= 3.3), which outlives a try; ``None`` on older Airflow."""
    return context.get("task_state_store")  # type: ignore[misc]
