# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaGenerateOperator / GammaGenerateFromTemplateOperator against the emulator.

The task instance is the one boundary stood in for here (a recorder of XCom pushes and a dict-backed
task state store); the same operators run inside real Airflow in test_dags.py and tests/e2e.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_gamma import submission
from airflow_provider_gamma._compat import AirflowFailException, TaskDeferred
from airflow_provider_gamma.exceptions import (
    GammaConfigurationError,
    GammaError,
    GammaGenerationFailedError,
    GammaGenerationTimeoutError,
    GammaParameterError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import (
    GammaGenerateFromTemplateOperator,
    GammaGenerateOperator,
    GammaGenerationLink,
)
from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger
from tests import doubles
from tests.doubles import StateStore


def context(store: StateStore | None = None) -> dict[str, Any]:
    return doubles.context(store=store)


def operator(**kwargs: Any) -> GammaGenerateOperator:
    defaults: dict[str, Any] = {"task_id": "generate", "input_text": "Weekly numbers", "poll_interval": 0.05}
    return GammaGenerateOperator(**{**defaults, **kwargs})


def test_invalid_parameters_fail_when_the_dag_is_parsed():
    with pytest.raises(GammaParameterError, match=r"format.*presentation, document, social, webpage"):
        operator(format="slides")
    with pytest.raises(GammaParameterError, match=r"image_options.*did you mean .source."):
        operator(image_options={"sourc": "aiGenerated"})
    with pytest.raises(GammaParameterError, match="poll_interval"):
        operator(poll_interval=0)
    with pytest.raises(GammaParameterError, match="gamma_id"):
        GammaGenerateFromTemplateOperator(task_id="t", gamma_id="", prompt="p")


def test_templated_values_are_checked_after_rendering():
    op = operator(input_text="{{ ti.xcom_pull('render') }}", num_cards="{{ params.cards }}")
    op.input_text, op.num_cards = "rendered", "0"
    with pytest.raises(GammaParameterError, match="num_cards"):
        op.execute(context())


def test_template_fields_cover_texts_ids_and_option_dicts():
    fields = set(GammaGenerateOperator.template_fields)
    assert {"input_text", "theme_id", "folder_ids", "text_options", "card_options", "extra_body"} <= fields
    assert GammaGenerateOperator.template_fields_renderers["card_options"] == "json"
    assert {"gamma_id", "prompt"} <= set(GammaGenerateFromTemplateOperator.template_fields)


def test_deferrable_posts_once_pushes_the_id_and_defers_with_an_absolute_deadline(gamma_connection):
    ctx = context()
    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        operator(deferrable=True, timeout=timedelta(minutes=10), poll_interval=7).execute(ctx)
    trigger = caught.value.trigger
    assert isinstance(trigger, GammaGenerationTrigger)
    generation_id = ctx["ti"].xcoms["generation_id"]
    assert ctx["ti"].xcoms["gamma_url"] == ""  # the link resolves quietly while deferred
    assert trigger.generation_id == generation_id
    assert trigger.poll_interval == 7
    assert before + 600 <= trigger.end_time <= time.time() + 600
    assert caught.value.method_name == "execute_complete"
    assert caught.value.timeout > timedelta(minutes=10)
    assert gamma_connection.post_count() == 1
    assert gamma_connection.api_key not in repr(trigger.serialize())


def test_non_deferrable_waits_in_process_and_returns_gammas_json(gamma_connection):
    ctx = context()
    result = operator(deferrable=False, export_as="pptx").execute(ctx)
    assert result["status"] == "completed"
    assert {"generationId", "gammaId", "gammaUrl", "credits"} <= set(result)
    assert "exportUrl" not in result  # a signed URL is a bearer secret: never in XCom (issue 24)
    assert ctx["ti"].xcoms == {"generation_id": result["generationId"], "gamma_url": result["gammaUrl"]}


def test_warnings_are_part_of_the_result(gamma_connection):
    result = operator(deferrable=False, card_options={"dimensions": "1x1"}).execute(context())
    assert "1x1" in result["warnings"]


def test_fire_and_return_without_waiting(gamma_connection):
    result = operator(wait_for_completion=False).execute(context())
    assert result["status"] == "pending"
    assert result["generationId"] in gamma_connection.generations


def test_template_operator(gamma_connection):
    op = GammaGenerateFromTemplateOperator(
        task_id="t", gamma_id="g_tpl", prompt="Monthly update", export_as="pdf", poll_interval=0.05
    )
    result = op.execute(context())
    assert result["status"] == "completed"
    assert gamma_connection.post_count("/v1.0/generations/from-template") == 1


def completed_event(generation_id: str) -> dict[str, Any]:
    generation = GammaHook().wait_for_generation(generation_id, poll_interval=0.05, timeout=10)
    return {"status": "success", "generation_id": generation_id, "message": "done", "generation": generation}


def test_execute_complete_success_returns_the_generation_and_the_link_url(gamma_connection):
    generation_id = GammaHook().create_generation("x")
    ctx = context()
    result = operator().execute_complete(ctx, completed_event(generation_id), warnings="heads up")
    assert result["generationId"] == generation_id
    assert result["warnings"] == "heads up"
    assert ctx["ti"].xcoms["gamma_url"] == result["gammaUrl"]


def test_execute_complete_failed_fails_without_retry_by_default(gamma_connection):
    gamma_connection.fail_next_generation(message="Text model overloaded")
    generation_id = GammaHook().create_generation("x")
    event = completed_event(generation_id)
    event["status"] = "failed"
    with pytest.raises(GammaGenerationFailedError) as caught:
        operator().execute_complete(context(), event)
    assert isinstance(caught.value, AirflowFailException)
    assert "Text model overloaded" in str(caught.value)
    assert generation_id in str(caught.value)
    with pytest.raises(GammaError) as retryable:
        operator(resubmit_failed=True).execute_complete(context(), event)
    assert not isinstance(retryable.value, AirflowFailException)


def test_execute_complete_timeout_names_the_generation_for_a_sensor():
    event = {"status": "timeout", "generation_id": "gen_9", "message": "still pending", "generation": None}
    with pytest.raises(GammaGenerationTimeoutError, match="GammaGenerationSensor") as caught:
        operator().execute_complete(context(), event)
    assert caught.value.generation_id == "gen_9"


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"status": "weird"},
        "success",
        {"status": "error", "generation_id": "g", "message": "401 bad key"},
    ],
)
def test_execute_complete_rejects_errors_and_malformed_events(event):
    with pytest.raises(GammaError):
        operator().execute_complete(context(), event)


def test_a_retry_reattaches_to_the_pending_generation_instead_of_paying_again(gamma_connection):
    store = StateStore()
    with pytest.raises(TaskDeferred):
        operator(deferrable=True).execute(context(store))
    first_id = store.values[submission.STATE_KEY]["generation_id"]
    # the next try (e.g. after a worker crash or the trigger's timeout) finds it and waits for it
    result = operator(deferrable=False).execute(context(store))
    assert result["generationId"] == first_id
    assert gamma_connection.post_count() == 1


def test_a_retry_after_completion_returns_the_same_deck(gamma_connection):
    store = StateStore()
    first = operator(deferrable=False).execute(context(store))
    second = operator(deferrable=True).execute(context(store))  # completed: no deferral, no POST
    assert second["generationId"] == first["generationId"]
    assert second["gammaUrl"] == first["gammaUrl"]
    assert gamma_connection.post_count() == 1


def test_a_failed_generation_is_resubmitted_only_when_the_user_opts_in(gamma_connection):
    store = StateStore()
    gamma_connection.fail_next_generation()
    with pytest.raises(GammaGenerationFailedError):
        operator(deferrable=False).execute(context(store))
    with pytest.raises(AirflowFailException, match="resubmit_failed=True"):
        operator(deferrable=False).execute(context(store))
    assert gamma_connection.post_count() == 1
    result = operator(deferrable=False, resubmit_failed=True).execute(context(store))
    assert result["status"] == "completed"
    assert gamma_connection.post_count() == 2


def test_the_link_is_registered_and_named():
    assert GammaGenerateOperator.operator_extra_links[0].name == "View in Gamma"
    assert isinstance(GammaGenerateFromTemplateOperator.operator_extra_links[0], GammaGenerationLink)


@pytest.mark.parametrize(
    ("extra", "task", "reference"),
    [
        ({}, None, True),  # on by default: a lost answer is settled by it
        ({"title_reference": False}, None, False),  # a team switches it off once, for the connection
        ({"title_reference": "false"}, None, False),  # as the UI's form stores it
        ({"title_reference": False}, True, True),  # ... and a task may still turn it on
        ({}, False, False),  # or off
    ],
)
def test_the_title_reference_follows_the_task_else_the_connection(
    gamma_connection, monkeypatch, extra: dict[str, Any], task: bool | None, reference: bool
):
    conn = json.loads(gamma_connection.connection_uri())
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({**conn, "extra": extra}))

    operator(title="Weekly deck", title_reference=task, wait_for_completion=False).execute(context())

    [post] = [r for r in gamma_connection.requests if r.method == "POST"]
    assert (post.json["title"] != "Weekly deck") is reference
    assert post.json["title"].startswith("Weekly deck")


def test_a_title_reference_extra_that_is_not_a_flag_is_refused(gamma_connection, monkeypatch):
    conn = json.loads(gamma_connection.connection_uri())
    monkeypatch.setenv(
        "AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps({**conn, "extra": {"title_reference": "off"}})
    )

    with pytest.raises(GammaConfigurationError, match="extra 'title_reference' must be true or false"):
        operator(wait_for_completion=False).execute(context())
    assert not gamma_connection.requests


def test_the_reconcile_window_follows_gammas_pace_not_the_tasks_patience():
    """Before: it defaulted to ``timeout`` (30 minutes), so a POST Gamma never acted on was sent
    again only half an hour later."""
    assert operator().reconcile_window == operator(timeout=7200).reconcile_window == 600
    assert operator(reconcile_window=timedelta(minutes=3)).reconcile_window == 180
