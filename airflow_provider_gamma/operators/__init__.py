# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The provider's operators, importable from here or from their own modules.

Imported lazily (PEP 562): importing one operator's module does not import the others' (the export
and analytics operators bring the landing code with them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_gamma.operators.agent import GammaAgentGenerateOperator
    from airflow_provider_gamma.operators.analytics import GammaAnalyticsToObjectStorageOperator
    from airflow_provider_gamma.operators.edit import GammaAgentEditOperator
    from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
    from airflow_provider_gamma.operators.gamma import (
        GammaGenerateFromTemplateOperator,
        GammaGenerateOperator,
    )

#: Each public operator and the module that defines it.
_MODULES = {
    "GammaGenerateOperator": "gamma",
    "GammaGenerateFromTemplateOperator": "gamma",
    "GammaAgentGenerateOperator": "agent",
    "GammaAgentEditOperator": "edit",
    "GammaExportToObjectStorageOperator": "export",
    "GammaAnalyticsToObjectStorageOperator": "analytics",
}

__all__ = [
    "GammaAgentEditOperator",
    "GammaAgentGenerateOperator",
    "GammaAnalyticsToObjectStorageOperator",
    "GammaExportToObjectStorageOperator",
    "GammaGenerateFromTemplateOperator",
    "GammaGenerateOperator",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
