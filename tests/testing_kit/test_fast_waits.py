# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""fast_waits: every wait of the provider is cut inside the block (a Retry-After excepted) and is
back to its own length after it; the DAG's operators are left as they were."""

from __future__ import annotations

import itertools
import math
import time

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma.exceptions import GammaRateLimitError, GammaServerError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.testing.fast_waits import fast_waits
from airflow_provider_gamma.triggers.gamma import GammaExportTrigger, GammaGenerationTrigger

POLL = protocol.get_generation_request("abc123")


def test_a_trigger_built_inside_polls_at_once_and_often_and_one_built_after_does_not() -> None:
    with fast_waits(0.1):
        generation = GammaGenerationTrigger(generation_id="g1", poll_interval=5, first_poll_delay=30)
        export = GammaExportTrigger(export_id="e1", poll_interval=2, first_poll_delay=2)
    after = GammaGenerationTrigger(generation_id="g1", poll_interval=5, first_poll_delay=30)

    kwargs = generation.serialize()[1]  # what dag.test() builds the trigger it runs from
    assert (kwargs["first_poll_delay"], kwargs["poll_interval"]) == (0.1, 0.1)
    assert (export.first_poll_delay, export.poll_interval) == (0.1, 0.1)
    assert (after.first_poll_delay, after.poll_interval) == (30, 5)


def test_a_wait_already_shorter_is_kept() -> None:
    with fast_waits(0.1):
        trigger = GammaGenerationTrigger(generation_id="g1", poll_interval=0.05, first_poll_delay=0)
    assert (trigger.first_poll_delay, trigger.poll_interval) == (0, 0.05)


def test_retry_backoffs_are_cut_and_a_retry_after_is_honoured() -> None:
    policy = RetryPolicy(jitter=False)
    bad_gateway = GammaServerError("Bad gateway", http_status=502)
    busy = GammaRateLimitError("Too many requests")
    told = GammaRateLimitError("Too many requests", retry_after=7.0)

    with fast_waits(0.1):
        assert [policy.delay(POLL, attempt, bad_gateway) for attempt in (1, 2)] == [0.1, 0.2]
        assert policy.delay(POLL, 1, busy) == 0.1
        assert policy.rate_limit_pause(None) == 0.1
        assert policy.delay(POLL, 1, told) == 7.0
    assert policy.delay(POLL, 1, bad_gateway) == 1.0
    assert policy.delay(POLL, 1, busy) == 30.0


def test_a_worker_wait_polls_every_tenth_of_a_second(gamma_connection: GammaEmulator) -> None:
    gamma_connection.generation_seconds = 0.6
    hook = GammaHook()
    generation_id = hook.create_generation("# A deck")

    with fast_waits(0.1):
        done = hook.wait_for_generation(generation_id, poll_interval=5)

    assert done["status"] == "completed"
    polls = [r.time for r in gamma_connection.requests if r.method == "GET"]
    assert len(polls) >= 2
    assert max(b - a for a, b in itertools.pairwise(polls)) < 1.0  # 5 s without fast_waits


def test_a_poking_sensor_pokes_often_and_keeps_its_own_interval(gamma_connection: GammaEmulator) -> None:
    gamma_connection.generation_seconds = 0.6
    generation_id = GammaHook().create_generation("# A deck")
    sensor = GammaGenerationSensor(task_id="wait", generation_id=generation_id, poke_interval=20, timeout=60)

    started = time.monotonic()
    with fast_waits(0.1):
        result = sensor.execute({})

    assert result["status"] == "completed"
    assert time.monotonic() - started < 10  # one poke interval is 20 s
    assert sensor.poke_interval == 20


@pytest.mark.parametrize("seconds", [0, -1, math.nan, math.inf, True, "0.1"])
def test_the_cap_must_be_a_positive_number_of_seconds(seconds: object) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"), fast_waits(seconds):  # type: ignore[arg-type]
        pass
