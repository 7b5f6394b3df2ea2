# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaGenerationSensor in poke, reschedule and deferrable mode against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_gamma._compat import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaGenerationFailedError,
    GammaNotFoundError,
    GammaParameterError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger


def sensor(generation_id: str, **kwargs: Any) -> GammaGenerationSensor:
    return GammaGenerationSensor(task_id="wait", generation_id=generation_id, poke_interval=0.05, **kwargs)


def test_poke_mode_returns_the_completed_generation(gamma_connection):
    generation_id = GammaHook().create_generation("x", export_as="pdf")
    result = sensor(generation_id, timeout=10).execute({})
    assert result["status"] == "completed"
    assert "exportUrl" not in result  # a signed URL is a bearer secret: never in XCom (issue 24)


def test_failed_generation_fails_the_sensor_with_gammas_message(gamma_connection):
    gamma_connection.fail_next_generation(message="No credits for images")
    generation_id = GammaHook().create_generation("x")
    with pytest.raises(GammaGenerationFailedError, match="No credits for images"):
        sensor(generation_id, timeout=10).execute({})


def test_soft_fail_turns_a_failed_generation_into_a_skip(gamma_connection):
    gamma_connection.fail_next_generation()
    generation_id = GammaHook().create_generation("x")
    with pytest.raises(AirflowSkipException):
        sensor(generation_id, timeout=10, soft_fail=True).execute({})


def test_reschedule_mode_frees_the_slot_while_pending(gamma_connection):
    gamma_connection.generation_seconds = 60
    generation_id = GammaHook().create_generation("x")

    class FirstTry:
        def get_first_reschedule_date(self, context: Any) -> None:
            return None

    with pytest.raises(AirflowRescheduleException):
        sensor(generation_id, mode="reschedule", timeout=60).execute({"ti": FirstTry()})


def test_deferrable_defers_while_pending_and_returns_at_once_when_done(gamma_connection):
    gamma_connection.generation_seconds = 60
    pending = GammaHook().create_generation("x")
    with pytest.raises(TaskDeferred) as caught:
        sensor(pending, deferrable=True, timeout=120).execute({})
    assert isinstance(caught.value.trigger, GammaGenerationTrigger)
    assert caught.value.trigger.generation_id == pending
    done = GammaHook().create_generation("y")
    gamma_connection.complete_generation(done)
    assert sensor(done, deferrable=True).execute({})["status"] == "completed"


def test_execute_complete_outcomes():
    generation = {"generationId": "g1", "status": "completed", "gammaUrl": "https://gamma.app/docs/x"}
    success = {"status": "success", "generation_id": "g1", "message": "ok", "generation": generation}
    assert sensor("g1").execute_complete({}, success) == generation
    failed_generation = {
        "generationId": "g1",
        "status": "failed",
        "error": {"message": "boom", "statusCode": 500},
    }
    failed = {"status": "failed", "generation_id": "g1", "message": "x", "generation": failed_generation}
    with pytest.raises(GammaGenerationFailedError, match="boom"):
        sensor("g1").execute_complete({}, failed)
    with pytest.raises(AirflowSensorTimeout):
        sensor("g1").execute_complete({}, {"status": "timeout", "generation_id": "g1", "message": "late"})
    with pytest.raises(GammaError):
        sensor("g1").execute_complete({}, {"status": "error", "generation_id": "g1", "message": "401"})
    with pytest.raises(GammaError):
        sensor("g1").execute_complete({}, None)


def test_generation_id_is_templated():
    assert "generation_id" in GammaGenerationSensor.template_fields


def test_a_deck_settled_by_search_is_taken_by_its_gamma(gamma_connection):
    """The generate task's XCom ``generation_id`` for a deck found after a lost POST answer is
    ``gamma:<gammaId>``; before, it was None, and the sensor polled /v1.0/generations/None (404)."""
    hook = GammaHook()
    gamma_id = hook.wait_for_generation(hook.create_generation("x"), poll_interval=0.05)["gammaId"]

    for deferrable in (False, True):
        result = sensor(f"gamma:{gamma_id}", timeout=10, deferrable=deferrable).execute({})
        assert result["status"] == "completed"
        assert result["gammaId"] == gamma_id
        assert result["generationId"] is None
        assert result["reconciled"] is True
        assert result["gammaUrl"].startswith("https://gamma.app/docs/")
    gets = [r.path for r in gamma_connection.requests if r.method == "GET"]
    assert gets.count(f"/v1.0/gammas/{gamma_id}") == 2


def test_a_settled_deck_that_is_gone_fails_the_sensor(gamma_connection):
    with pytest.raises(GammaNotFoundError):
        sensor("gamma:g_nosuchgamma00000", timeout=10).execute({})


def test_a_generation_id_rendered_from_none_says_what_happened(gamma_connection):
    with pytest.raises(GammaParameterError, match="pushed no generation id"):
        sensor("None", timeout=10).execute({})
    assert not [r for r in gamma_connection.requests if r.method == "GET"]
