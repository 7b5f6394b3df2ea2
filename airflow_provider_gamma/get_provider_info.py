# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What Airflow learns about this provider through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_gamma import __version__
from airflow_provider_gamma.connection import CONN_FIELDS, CONN_TYPE, UI_FIELD_BEHAVIOUR

_INTEGRATION = "Gamma"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata; validated against Airflow's ``provider_info.schema.json`` in the tests."""
    return {
        "package-name": "airflow-provider-gamma",
        "name": "Gamma",
        "description": "Generate presentations, documents, webpages and social posts with the "
        "`Gamma <https://gamma.app>`__ API, and land their exports in object storage.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://developers.gamma.app",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_gamma.hooks.gamma"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_gamma.operators.gamma",
                    "airflow_provider_gamma.operators.export",
                ],
            }
        ],
        "sensors": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_gamma.sensors.gamma"]}
        ],
        "triggers": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_gamma.triggers.gamma"]}
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_gamma.hooks.gamma.GammaHook",
                "hook-name": "Gamma",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
        "extra-links": ["airflow_provider_gamma.operators.gamma.GammaGenerationLink"],
    }
