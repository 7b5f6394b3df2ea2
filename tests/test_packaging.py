# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Declared floors, proven: every package the code imports is declared with a floor, the lowest lock (the
oldest suite's venv) holds every direct dependency at exactly that floor, and a resolver refuses an install
below one. The policy is in docs/versioning.md."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_provider_gamma"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: Distributions that apache-airflow pins to its own release (through apache-airflow-core), so its floor is theirs.
PINNED_BY_AIRFLOW = {"apache-airflow-core", "apache-airflow-task-sdk"}


def _declared() -> list[Requirement]:
    extras = PROJECT["optional-dependencies"].values()
    return [Requirement(r) for r in [*PROJECT["dependencies"], *(r for extra in extras for r in extra)]]


def _floor(requirement: Requirement) -> str | None:
    return next((s.version for s in requirement.specifier if s.operator == ">="), None)


def _imports() -> dict[str, set[str]]:
    """Every absolute import in the package (in functions and TYPE_CHECKING blocks too) -> the files."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _distribution_of(module: str) -> str | None:
    """The installed distribution whose files hold ``module`` (or its nearest importable parent)."""
    name, origin = module, None
    while name and origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None and spec.origin not in (None, "namespace", "built-in", "frozen"):
            origin = os.path.realpath(spec.origin)
        name = name.rpartition(".")[0]
    if origin is None:
        return None
    top = module.partition(".")[0]
    return next((d for d in _owners().get(top, []) if origin in _files(d)), None)


@functools.cache
def _owners() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.cache
def _files(distribution: str) -> frozenset[str]:
    dist = importlib.metadata.distribution(distribution)
    return frozenset(os.path.realpath(dist.locate_file(f)) for f in dist.files or () if f.suffix == ".py")


def test_every_imported_package_is_declared_with_a_floor():
    declared = {canonicalize_name(r.name) for r in _declared()}
    undeclared = []
    for module, files in sorted(_imports().items()):
        top = module.partition(".")[0]
        if top in sys.stdlib_module_names or top == PACKAGE.name:
            continue
        owner = _distribution_of(module)
        owner = owner and canonicalize_name(owner)
        if owner is None:
            undeclared.append(f"{module} (not installed here) in {sorted(files)}")
        elif owner not in declared and owner not in PINNED_BY_AIRFLOW:
            undeclared.append(f"{module} ({owner}) in {sorted(files)}")
    assert not undeclared, "imported but not declared in pyproject.toml:\n" + "\n".join(undeclared)
    assert all(_floor(r) for r in _declared()), [str(r) for r in _declared() if not _floor(r)]


def _pins(distribution: str) -> dict[str, list[str]]:
    requirements = map(Requirement, importlib.metadata.requires(distribution) or [])
    return {
        canonicalize_name(r.name): [s.operator for s in r.specifier] for r in requirements if not r.marker
    }


def test_apache_airflow_pins_the_core_and_the_core_pins_the_task_sdk():
    """So apache-airflow's floor is theirs too (airflow.sdk is the task SDK's)."""
    assert "==" in _pins("apache-airflow")["apache-airflow-core"]
    assert "==" in _pins("apache-airflow-core")["apache-airflow-task-sdk"]


def test_the_lowest_lock_holds_every_direct_dependency_at_its_floor():
    lock = {}
    for line in (ROOT / "constraints" / "lowest-direct.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            lock[canonicalize_name(Requirement(name).name)] = Version(version.strip())
    off = {
        r.name: (_floor(r), str(lock.get(canonicalize_name(r.name))))
        for r in _declared()
        if lock.get(canonicalize_name(r.name)) != Version(_floor(r) or "0")
    }
    assert not off, f"(floor, locked) differ, re-lock with `make constraints`: {off}"


def test_this_python_is_a_declared_one():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Programming Language :: Python :: {version}" in PROJECT["classifiers"]
    assert PROJECT["requires-python"] == ">=3.11"  # common-compat 1.21 (the floor) requires it


def _uv() -> str:
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.skip("uv not installed (make installs it into .tools/)")
    return uv


def test_a_common_compat_below_the_floor_is_refused_by_the_resolver(tmp_path: Path):
    """The hook's triggers need connection.get_async_extra_dejson, first in common-compat 1.21.0."""
    requirements = tmp_path / "requirements.in"
    requirements.write_text(
        f"airflow-provider-gamma @ {ROOT.as_uri()}\napache-airflow-providers-common-compat==1.20.0\n"
    )
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    answer = subprocess.run(
        [_uv(), "pip", "compile", "-q", str(requirements), "--python-version", python, "--no-header"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert answer.returncode != 0, answer.stdout
    assert "apache-airflow-providers-common-compat>=1.21.0" in answer.stderr, answer.stderr
    assert "unsatisfiable" in answer.stderr, answer.stderr
