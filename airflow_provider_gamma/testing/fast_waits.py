# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Short waits for DAG tests against the emulator, without editing the DAG.

The provider's waits are sized for the real Gamma: the first poll of a deferred generation comes
after 10 s (30 s for an agent run), polls every 5 s, a 5xx is retried after 1 s and a 429 without
``Retry-After`` after 30 s. The emulator's generations take 0.2 s, so a test would spend nearly all its
time asleep. Inside :func:`fast_waits`, every such wait of the provider's tasks is cut to ``seconds``
(a ``Retry-After`` Gamma or the emulator sends is still honoured). Your DAG file is not touched: the
provider's classes are patched in this process for the duration of the block.

Patched (and restored on exit):

* :class:`~airflow_provider_gamma.triggers.gamma.GammaGenerationTrigger` and
  :class:`~airflow_provider_gamma.triggers.gamma.GammaExportTrigger`: a trigger built inside the block
  has ``first_poll_delay`` and ``poll_interval`` of at most ``seconds``. This covers every deferrable
  operator and the deferrable sensor.
* :meth:`GammaHook.wait_for_generation` and :meth:`GammaHook.wait_for_export`: the waits of
  non-deferrable tasks poll at most ``seconds`` apart.
* :class:`~airflow_provider_gamma.sensors.gamma.GammaGenerationSensor` in ``poke`` and ``reschedule``
  mode: ``poke_interval`` is at most ``seconds`` while it runs.
* :class:`~airflow_provider_gamma.protocol.RetryPolicy`: ``backoff`` and ``rate_limit_backoff`` are
  at most ``seconds`` (so a 5xx or a 429 fault costs no real waiting). ``max_backoff`` is left alone.

This works where the task and its trigger run in the test's own process: ``dag.test()`` (Airflow 3 runs
the task and then its trigger in-process), ``operator.execute()``, a trigger's ``run()``. It cannot
reach ``airflow dags test`` started as a separate process, ``dag.test(use_executor=True)`` or a real
triggerer; there, pass shorter ``first_poll_delay`` / ``poll_interval`` to the operators.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

__all__ = ["DEFAULT_WAIT_CAP", "fast_waits"]

#: The longest wait :func:`fast_waits` leaves by default. A generation of the ``gamma_emulator``
#: fixture takes 0.2 s, so it is found done on the second or third poll.
DEFAULT_WAIT_CAP = 0.1


@contextmanager
def fast_waits(seconds: float = DEFAULT_WAIT_CAP) -> Iterator[float]:
    """Cap every poll, first-poll delay, sensor poke and retry backoff of the provider at ``seconds``
    while the block runs, in this process; yields ``seconds``.

    :param seconds: the longest wait left, a positive number of seconds (default 0.1).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError(f"fast_waits(seconds={seconds!r}): must be a positive number of seconds")
    if seconds <= 0:
        raise ValueError(f"fast_waits(seconds={seconds!r}): must be a positive number of seconds")
    cap = float(seconds)

    from airflow_provider_gamma.hooks.gamma import GammaHook
    from airflow_provider_gamma.protocol import RetryPolicy
    from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
    from airflow_provider_gamma.triggers.gamma import GammaExportTrigger, GammaGenerationTrigger

    with ExitStack() as patches:

        def wrap(owner: type, name: str, capped: Callable[[Callable[..., Any], float], Any]) -> None:
            patches.enter_context(mock.patch.object(owner, name, capped(getattr(owner, name), cap)))

        for trigger in (GammaGenerationTrigger, GammaExportTrigger):
            wrap(trigger, "__init__", _trigger_init)
        for wait in ("wait_for_generation", "wait_for_export"):
            wrap(GammaHook, wait, _hook_wait)
        for pause in ("delay", "rate_limit_pause"):
            wrap(RetryPolicy, pause, _policy_method)
        wrap(GammaGenerationSensor, "execute", _sensor_execute)
        yield cap


def _trigger_init(init: Callable[..., None], cap: float) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.first_poll_delay = min(self.first_poll_delay, cap)
        self.poll_interval = min(self.poll_interval, cap)

    return __init__


def _hook_wait(wait: Callable[..., Any], cap: float) -> Callable[..., Any]:
    @functools.wraps(wait)
    def capped(self: Any, job_id: str, *, poll_interval: float = cap, **kwargs: Any) -> Any:
        return wait(self, job_id, poll_interval=min(poll_interval, cap), **kwargs)

    return capped


def _policy_method(method: Callable[..., Any], cap: float) -> Callable[..., Any]:
    @functools.wraps(method)
    def capped(self: Any, *args: Any, **kwargs: Any) -> Any:
        shorter = dataclasses.replace(
            self, backoff=min(self.backoff, cap), rate_limit_backoff=min(self.rate_limit_backoff, cap)
        )
        return method(shorter, *args, **kwargs)

    return capped


def _sensor_execute(execute: Callable[..., Any], cap: float) -> Callable[..., Any]:
    # The sensor is the DAG's own task object: its interval is shortened for this run only.
    @functools.wraps(execute)
    def capped(self: Any, *args: Any, **kwargs: Any) -> Any:
        interval = self.poke_interval
        self.poke_interval = min(interval, cap)
        try:
            return execute(self, *args, **kwargs)
        finally:
            self.poke_interval = interval

    return capped
