# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A user's project exactly as docs/testing-your-dags.md shows it, tested as its user would: ``pytest``
in a fresh process, from a shell with its own Airflow home, whose conftest.py holds only the one
documented line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import REPO

GUIDE = REPO / "docs" / "testing-your-dags.md"
#: The guide's files: code blocks titled with their path in the project.
FILE_BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
PLUGIN_LINE = 'pytest_plugins = ["airflow_provider_gamma.testing.airflow_home"]\n'


def write_project(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def users_shell(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """The environment of someone who works with Airflow: their own home and database (which the tests
    must leave alone) and nothing of this suite's; returns it, that home and the temp directory."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    home = tmp_path / "my-airflow-home"
    temp = tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'my-work.db'}",
        TMPDIR=str(temp),
    )
    return env, home, temp


def run_pytest(project: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], ET.Element]:
    report = project.parent / f"{project.name}-report.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    suite = ET.parse(report).getroot()  # noqa: S314 (written by the pytest just run)
    return result, suite if suite.tag == "testsuite" else suite[0]


def test_the_guides_project_passes_with_only_the_one_line_of_setup(tmp_path: Path) -> None:
    files = dict(FILE_BLOCK.findall(GUIDE.read_text()))
    assert files["conftest.py"] == PLUGIN_LINE
    assert {"dags/weekly_deck.py", "tests/test_weekly_deck.py", "tests/test_low_credits.py"} <= set(files)
    project = tmp_path / "my-project"
    write_project(project, files)
    env, my_home, temp = users_shell(tmp_path)

    started = time.monotonic()
    result, suite = run_pytest(project, env)
    print(f"the guide's tests ran in {time.monotonic() - started:.1f} s")

    expected = sum(text.count("\ndef test_") for text in files.values())
    outcome = {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")}
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert outcome == {"tests": str(expected), "failures": "0", "errors": "0", "skipped": "0"}
    assert list(my_home.iterdir()) == []  # the user's own home and database were never touched
    assert list(temp.glob("gamma-dag-tests-airflow-*")) == []  # the throwaway home is gone


def test_airflow_imported_before_the_plugin_is_named_not_silently_used(tmp_path: Path) -> None:
    project = tmp_path / "early"
    write_project(
        project,
        {
            "conftest.py": "import airflow  # read its configuration from the shell's home\n\n" + PLUGIN_LINE,
            "test_home.py": "def test_home(airflow_home):\n    pass\n",
        },
    )
    env, my_home, _ = users_shell(tmp_path)

    result, suite = run_pytest(project, env)

    assert result.returncode == 1
    assert suite.get("errors") == "1"
    said = " ".join((result.stdout + result.stderr).split())
    assert "Airflow was imported before airflow_provider_gamma.testing.airflow_home" in said
    assert f"so it runs on {my_home}" in said
    assert "PytestConfigWarning" in said  # also said once at start-up, for tests without the fixture
