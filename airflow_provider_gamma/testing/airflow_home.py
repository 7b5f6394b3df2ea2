# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A throwaway Airflow home for your DAG tests, in one line of the ``conftest.py`` next to ``dags/``::

    pytest_plugins = ["airflow_provider_gamma.testing.airflow_home"]

Airflow reads its configuration once, when it is first imported. pytest imports this plugin while it
reads that ``conftest.py``, before it imports your test modules, so the plugin points Airflow at a new
temporary home first (see :func:`~airflow_provider_gamma.testing.home.new_home`): your shell's
``AIRFLOW_HOME`` and database are never read or written, and the DAGs folder is the ``dags/`` folder
nearest to that ``conftest.py`` unless ``AIRFLOW__CORE__DAGS_FOLDER`` is set. The home is removed
when pytest ends; the ``airflow_home`` fixture migrates its database once per session.

The plugin also enables :mod:`airflow_provider_gamma.testing.pytest_plugin` (``gamma_emulator``,
``gamma_connection``, ``gamma_fast_waits``). Enable it before anything imports Airflow: a
``conftest.py`` that imports Airflow or your DAGs at its top, above this line, leaves Airflow on its
usual home; pytest then warns, and ``airflow_home`` fails saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_gamma.testing.home import AirflowHome, new_home

__all__ = ["airflow_home"]

pytest_plugins = ["airflow_provider_gamma.testing.pytest_plugin"]


def _enabling_conftest() -> Path | None:
    """The folder of the ``conftest.py`` that enabled this plugin (the last one imported)."""
    for module in reversed(list(sys.modules.values())):
        file = getattr(module, "__file__", None)
        if not file or Path(file).name != "conftest.py":
            continue
        plugins = getattr(module, "pytest_plugins", ())
        if __name__ in ([plugins] if isinstance(plugins, str) else list(plugins)):
            return Path(file).resolve().parent
    return None


# Now, while pytest reads the conftest.py: Airflow has read its configuration once imported.
_HOME = None if "airflow.configuration" in sys.modules else new_home(_enabling_conftest() or Path.cwd())

_TOO_LATE = (
    "Airflow was imported before airflow_provider_gamma.testing.airflow_home could give it a test home, "
    'so it runs on {home}. Put `pytest_plugins = ["airflow_provider_gamma.testing.airflow_home"]` '
    "at the top of the conftest.py next to your dags/ folder, above any import of Airflow or of your "
    "DAGs, and import those inside tests or fixtures."
)


def _too_late() -> str:
    from airflow.configuration import AIRFLOW_HOME

    return _TOO_LATE.format(home=AIRFLOW_HOME)


def pytest_configure(config: pytest.Config) -> None:
    if _HOME is None:
        config.issue_config_time_warning(pytest.PytestConfigWarning(_too_late()), stacklevel=2)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HOME is not None:
        shutil.rmtree(_HOME.path, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> AirflowHome:
    """The temporary Airflow home, its metadata DB migrated (once per session), with your DAGs folder;
    ``airflow_home.dag("my_dag")`` parses a DAG from it, ready for ``dag.test()``."""
    if _HOME is None:
        pytest.fail(_too_late(), pytrace=False)
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if migrate.returncode != 0:
        pytest.fail(
            f"`airflow db migrate` failed in {_HOME.path} (exit {migrate.returncode}):\n"
            f"{migrate.stdout}\n{migrate.stderr}",
            pytrace=False,
        )
    return _HOME
