# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The Airflow home of your DAG tests: a temporary folder with its SQLite database, and your DAGs
folder. :mod:`airflow_provider_gamma.testing.airflow_home` (the pytest plugin) makes one when pytest
starts; this module imports nothing of Airflow and changes nothing until called."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PROJECT_MARKERS", "AirflowHome", "find_dags_folder", "new_home"]

#: Files that mark a project's root: the search for ``dags/`` stops there.
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


@dataclass(frozen=True)
class AirflowHome:
    """The Airflow home your tests run in.

    :param path: the temporary ``AIRFLOW_HOME`` (``airflow.cfg``, ``airflow.db``, ``logs/``).
    :param dags_folder: the DAGs folder Airflow parses, e.g. your project's ``dags/``.
    """

    path: Path
    dags_folder: Path

    def dag(self, dag_id: str) -> Any:
        """The DAG ``dag_id``, parsed from :attr:`dags_folder` as Airflow parses it; ready for
        ``dag.test()``. Raises ``LookupError`` naming the DAGs found and the files that failed to
        import when it is not there."""
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:  # Airflow < 3.2
            from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

        bag = DagBag(dag_folder=str(self.dags_folder))
        if dag_id in bag.dags:
            return bag.dags[dag_id]
        found = ", ".join(sorted(bag.dags)) or "none"
        errors = "".join(f"\n{file}:\n{error}" for file, error in sorted(bag.import_errors.items()))
        raise LookupError(
            f"No DAG {dag_id!r} in {self.dags_folder} (DAGs found: {found})"
            + (f"; these files failed to import:{errors}" if errors else "")
        )


def find_dags_folder(start: Path) -> Path | None:
    """The nearest ``dags/`` folder at or above ``start``, up to the project root (the first folder
    holding one of :data:`PROJECT_MARKERS`); ``None`` if there is none."""
    for folder in (start, *start.parents):
        if (folder / "dags").is_dir():
            return folder / "dags"
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return None
    return None


def new_home(near: Path) -> AirflowHome:
    """Make a temporary Airflow home and point this process's environment at it, for Airflow to read
    when it is first imported: ``AIRFLOW_HOME``, ``AIRFLOW_CONFIG``, a SQLite database in the home,
    no example DAGs, and no ``AIRFLOW_CONN_GAMMA_DEFAULT``. The DAGs folder is
    ``AIRFLOW__CORE__DAGS_FOLDER`` when the environment sets it, else the ``dags/`` folder nearest to
    ``near`` (see :func:`find_dags_folder`), else an empty one in the home.

    :param near: where to look for the project's ``dags/`` folder, e.g. the folder of a ``conftest.py``.
    """
    home = Path(tempfile.mkdtemp(prefix="gamma-dag-tests-airflow-"))
    configured = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if configured:
        dags = Path(configured).expanduser().resolve()
    else:
        dags = find_dags_folder(near) or home / "dags"
        dags.mkdir(exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    os.environ.pop("AIRFLOW_CONN_GAMMA_DEFAULT", None)
    return AirflowHome(path=home, dags_folder=dags)
