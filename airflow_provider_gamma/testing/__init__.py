# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Test helpers for airflow-provider-gamma: an emulator of the Gamma public API.

``from airflow_provider_gamma.testing import GammaEmulator`` gives an in-process emulator serving
real HTTP on loopback; see :class:`GammaEmulator`. Enable the pytest fixtures with
``pytest_plugins = ["airflow_provider_gamma.testing.pytest_plugin"]``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_gamma.testing.emulator import FAIL_MARKER, GammaEmulator
    from airflow_provider_gamma.testing.faults import FaultRule
    from airflow_provider_gamma.testing.state import GenerationState, RecordedRequest

__all__ = [
    "FAIL_MARKER",
    "FaultRule",
    "GammaEmulator",
    "GenerationState",
    "RecordedRequest",
]

# Imported lazily so that ``python -m airflow_provider_gamma.testing.emulator`` does not import
# the emulator module twice.
_LOCATIONS = {
    "FAIL_MARKER": "airflow_provider_gamma.testing.emulator",
    "GammaEmulator": "airflow_provider_gamma.testing.emulator",
    "FaultRule": "airflow_provider_gamma.testing.faults",
    "GenerationState": "airflow_provider_gamma.testing.state",
    "RecordedRequest": "airflow_provider_gamma.testing.state",
}


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
