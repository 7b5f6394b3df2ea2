# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""pytest fixtures running a :class:`GammaEmulator` per test, and short waits against it.

To test your DAGs, enable :mod:`airflow_provider_gamma.testing.airflow_home` instead: it gives Airflow
a throwaway home and enables these fixtures too. This plugin alone leaves Airflow's configuration
as your suite sets it::

    pytest_plugins = ["airflow_provider_gamma.testing.pytest_plugin"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_gamma.testing.emulator import GammaEmulator
from airflow_provider_gamma.testing.fast_waits import DEFAULT_WAIT_CAP, fast_waits

__all__ = ["gamma_connection", "gamma_emulator", "gamma_fast_waits"]


@pytest.fixture
def gamma_emulator() -> Iterator[GammaEmulator]:
    """A started Gamma emulator (generations finish after 0.2 s), stopped after the test."""
    with GammaEmulator(generation_seconds=0.2) as emulator:
        yield emulator


@pytest.fixture
def gamma_connection(
    gamma_emulator: GammaEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GammaEmulator]:
    """The ``gamma_emulator``, with ``AIRFLOW_CONN_GAMMA_DEFAULT`` pointing Airflow's
    ``gamma_default`` connection at it for the duration of the test (and no connection read by an
    earlier test's triggers reused)."""
    from airflow_provider_gamma.hooks.gamma import GammaHook

    GammaHook.clear_connection_cache()
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", gamma_emulator.connection_uri())
    yield gamma_emulator
    GammaHook.clear_connection_cache()


@pytest.fixture
def gamma_fast_waits() -> Iterator[float]:
    """Every poll, first-poll delay, sensor poke and retry backoff of the provider's tasks cut to 0.1 s
    for the test, without editing the DAG (see :func:`~airflow_provider_gamma.testing.fast_waits.fast_waits`);
    yields the cap. Works where tasks and triggers run in the test's process, as in ``dag.test()``."""
    with fast_waits(DEFAULT_WAIT_CAP) as cap:
        yield cap
