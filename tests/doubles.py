# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What the operators use of Airflow's task instance and task state store, for tests that call
``execute`` directly (the same operators run inside real Airflow in tests/reliability and tests/e2e)."""

from __future__ import annotations

from typing import Any


class TaskInstance:
    """XCom pushes and the try numbers: ``max_tries`` is what Airflow sets (``retries`` on the first
    run, the try number at a clear plus ``retries`` after one)."""

    def __init__(self, try_number: int = 1, max_tries: int = 0) -> None:
        self.xcoms: dict[str, Any] = {}
        self.try_number = try_number
        self.max_tries = max_tries

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class StateStore:
    """Airflow 3.3's ``context["task_state_store"]``: outlives tries and, as in Airflow, clears."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value


def context(ti: TaskInstance | None = None, store: StateStore | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"ti": ti or TaskInstance(), "outlet_events": {}}
    if store is not None:
        ctx["task_state_store"] = store
    return ctx
