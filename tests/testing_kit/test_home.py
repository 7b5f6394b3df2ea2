# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The Airflow home of a user's DAG tests: which DAGs folder it takes, what it sets, and how it finds
a DAG (or says why it cannot)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.home import AirflowHome, find_dags_folder, new_home

GOOD_DAG = """\
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("good", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    EmptyOperator(task_id="nothing")
"""


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A copy of the environment for new_home() to change, and temporary folders made under tmp_path."""
    copy = dict(os.environ)
    monkeypatch.setattr(os, "environ", copy)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return copy


def test_the_nearest_dags_folder_is_found_up_to_the_project_root(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    (project / "tests" / "unit").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    assert find_dags_folder(project / "tests" / "unit") == project / "dags"
    assert find_dags_folder(project) == project / "dags"

    (tmp_path / "dags").mkdir()  # above the project root: not the project's
    (project / "dags").rmdir()
    assert find_dags_folder(project / "tests") is None


def test_a_new_home_points_airflow_at_a_temporary_folder_and_the_projects_dags(
    environment: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "project" / "dags").mkdir(parents=True)
    environment.update(AIRFLOW_HOME="/home/me/airflow", AIRFLOW_CONN_GAMMA_DEFAULT='{"password": "sk-real"}')
    environment.pop("AIRFLOW__CORE__DAGS_FOLDER", None)

    home = new_home(tmp_path / "project")

    assert home.path.parent == tmp_path
    assert home.dags_folder == tmp_path / "project" / "dags"
    assert {name: environment.get(name) for name in ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER")} == {
        "AIRFLOW_HOME": str(home.path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home.dags_folder),
    }
    assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home.path}/airflow.db"
    assert environment["AIRFLOW_CONFIG"] == str(home.path / "airflow.cfg")
    assert environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert "AIRFLOW_CONN_GAMMA_DEFAULT" not in environment


def test_a_dags_folder_the_environment_names_wins(environment: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "project" / "dags").mkdir(parents=True)
    environment["AIRFLOW__CORE__DAGS_FOLDER"] = str(tmp_path / "elsewhere")
    assert new_home(tmp_path / "project").dags_folder == tmp_path / "elsewhere"


def test_without_a_dags_folder_the_home_gets_an_empty_one(
    environment: dict[str, str], tmp_path: Path
) -> None:
    environment.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".git").mkdir()
    home = new_home(tmp_path / "project")
    assert home.dags_folder == home.path / "dags"
    assert list(home.dags_folder.iterdir()) == []


def test_a_dag_is_parsed_from_the_folder_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD_DAG)
    (tmp_path / "broken.py").write_text("from airflow.sdk import DAG\nraise ValueError('no warehouse')\n")
    home = AirflowHome(path=tmp_path, dags_folder=tmp_path)

    assert home.dag("good").dag_id == "good"
    with pytest.raises(LookupError) as missing:
        home.dag("weekly_deck")
    message = str(missing.value)
    assert "No DAG 'weekly_deck'" in message
    assert "DAGs found: good" in message
    assert "broken.py" in message
    assert "no warehouse" in message
