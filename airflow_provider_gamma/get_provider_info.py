# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What Airflow learns about this provider through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

# Airflow imports this module while it loads its own configuration: it must not import Airflow.
from airflow_provider_gamma import __version__

_INTEGRATION = "Gamma"
CONN_TYPE = "gamma"
DEFAULT_BASE_URL = "https://public-api.gamma.app"
DEFAULT_TIMEOUT = 30.0

#: The connection form, declared once: provider info serves it to Airflow >= 3.2 and the hook's
#: ``get_ui_field_behaviour`` to Airflow 3.1.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"password": "API Key", "host": "Base URL"},
    "placeholders": {"password": "sk-gamma-...", "host": DEFAULT_BASE_URL},
}
CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Seconds one attempt may take in all (connect, headers and body) before it is "
        "retried or fails.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT, "minimum": 1},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "e.g. http://proxy.example:3128. Empty: HTTPS_PROXY/NO_PROXY of the environment, "
        "in workers and the triggerer alike.",
        "schema": {"type": ["string", "null"]},
    },
    "ca_bundle": {
        "label": "CA bundle (path)",
        "description": "PEM file of the CAs to trust, e.g. a TLS-inspecting proxy's; it must exist on "
        "workers and triggerers. Empty: REQUESTS_CA_BUNDLE, else certifi's bundle.",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": "Turn off only for a test server.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "title_reference": {
        "label": "Reference in deck titles",
        "description": "Generate tasks append a short reference to each deck's title (\"Weekly figures "
        '[k7q3m9]") so that a POST whose answer is lost finds its deck and is never paid twice. Off: '
        "titles stay as given (a task may still turn it on); a lost answer is then settled only when no "
        "gamma of the key's user changed since the POST, else the task fails listing the candidates.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "credits_warning_below": {
        "label": "Warn below credits",
        "description": "A generate task logs a warning, and counts the metric gamma.credits.low, when the "
        "workspace's credits left, as Gamma reports them with each deck, fall below this number. "
        "Empty: no warning.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
}


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
        "hooks": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_gamma.hooks.gamma"]}
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_gamma.operators.gamma",
                    "airflow_provider_gamma.operators.agent",
                    "airflow_provider_gamma.operators.export",
                    "airflow_provider_gamma.operators.analytics",
                    "airflow_provider_gamma.operators.edit",
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
