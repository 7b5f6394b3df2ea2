# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Provider registration: schema-valid provider info, everything it names importable, CLI sees it."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_gamma import __version__
from airflow_provider_gamma.get_provider_info import get_provider_info
from tests.conftest import airflow_cli


def test_provider_info_passes_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_entry_point_is_registered_and_package_name_matches_the_distribution():
    [entry] = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_gamma")
    ]
    info = entry.load()()
    assert info["package-name"] == "airflow-provider-gamma"
    assert info["versions"] == [__version__]


def test_every_declared_module_and_class_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for item in info[section]:
            for module in item["python-modules"]:
                importlib.import_module(module)
    for dotted in [*info["extra-links"], info["connection-types"][0]["hook-class-name"]]:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


def test_connection_form_is_declarative_and_also_served_to_airflow_3_1():
    from airflow_provider_gamma.hooks.gamma import GammaHook

    conn_type = get_provider_info()["connection-types"][0]
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "API Key"
    assert conn_type["conn-fields"]["timeout"]["schema"]["default"] == 30.0
    assert GammaHook.get_ui_field_behaviour()["relabeling"] == conn_type["ui-field-behaviour"]["relabeling"]


@pytest.mark.usefixtures("airflow_home")
def test_airflow_lists_the_provider_and_its_connection_type():
    providers = airflow_cli("providers", "list", "-o", "json").stdout
    assert any(p["package_name"] == "airflow-provider-gamma" for p in json.loads(providers))
    hooks = airflow_cli("providers", "hooks", "-o", "json").stdout
    assert "gamma" in {h["connection_type"] for h in json.loads(hooks)}
