# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma 5 agent generations: the body, the operator, and the one trigger, sensor and export path that
serve both engines (the id's ``gen_`` prefix picks the endpoint). Real HTTP to the emulator."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma import parameters, protocol, submission
from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.exceptions import GammaGenerationFailedError, GammaParameterError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import (
    AGENT_FIRST_POLL_DELAY,
    GammaAgentGenerateOperator,
)
from airflow_provider_gamma.reconcile import AGENT_WINDOW
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger
from tests import doubles

AGENT = "/v1.0/agent/generations"
SOURCES = ["https://example.com/q3", "https://example.com/roadmap"]


def agent(**kwargs: Any) -> GammaAgentGenerateOperator:
    params: dict[str, Any] = {
        "task_id": "agent_deck",
        "prompt": "A 6-card update on this week's revenue for the board",
        "poll_interval": 0.05,
        "first_poll_delay": 0.05,
        "deferrable": False,
    }
    return GammaAgentGenerateOperator(**{**params, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "webpage"}, r"format='webpage'.*presentation, document, social"),
        ({"quality": "best"}, r"quality='best'.*lite, standard, max"),
        ({"num_cards": 101}, r"num_cards=101.*1 to 100"),
        ({"source_urls": [f"https://example.com/{i}" for i in range(11)]}, r"source_urls.*at most 10"),
        ({"source_urls": ["ftp://example.com/x"]}, r"source_urls='ftp://example.com/x'.*http\(s\) URL"),
        ({"source_urls": "https://example.com"}, r"source_urls.*list of non-empty strings"),
        ({"disable_connectors": "yes"}, r"disable_connectors='yes'.*true or false"),
        ({"prompt": " "}, r"prompt.*1 to 400,000 characters"),
        ({"theme_id": "t1"}, r"theme_id"),  # classic only: Gamma 5 takes no theme
    ],
)
def test_invalid_agent_parameters_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((GammaParameterError, TypeError), match=message):
        agent(**kwargs)


def test_the_body_uses_gammas_own_field_names_and_leaves_the_rest_out() -> None:
    body = parameters.agent_body(
        prompt="Deck",
        format="document",
        quality="lite",
        source_urls=tuple(SOURCES),
        disable_connectors=True,
        folder_id="f_1",
        num_cards="7",
        extra_body={"newField": 1},
    )
    assert body == {
        "prompt": "Deck",
        "format": "document",
        "quality": "lite",
        "sourceUrls": SOURCES,
        "disableConnectors": True,
        "folderId": "f_1",
        "numCards": 7,
        "newField": 1,
    }


def test_agent_ids_are_polled_under_the_agent_endpoint() -> None:
    assert protocol.get_generation_request("gen_abc").path == "/v1.0/agent/generations/gen_abc"
    assert protocol.get_generation_request("abc123xyz").path == "/v1.0/generations/abc123xyz"


def test_an_agent_answer_reads_like_a_classic_one() -> None:
    request = protocol.get_generation_request("gen_1")
    answer = {
        "generationId": "gen_1",
        "status": "completed",
        "gamma": {"gammaId": "g_1", "gammaUrl": "https://gamma.app/docs/x-1"},  # as Gamma documents it
        "result": {"summary": "Built 6 cards."},
        "progress": "n/a",
    }
    generation = protocol.read_generation(request, answer)
    assert generation["gammaId"] == "g_1"
    assert generation["gammaUrl"] == "https://gamma.app/docs/x-1"
    assert generation["summary"] == "Built 6 cards."
    assert "progress" not in generation  # not a dict: dropped rather than trusted


def test_the_agent_deck_is_made_once_and_returned_with_its_summary(gamma_connection) -> None:
    ti = doubles.TaskInstance()
    result = agent(source_urls=SOURCES, quality="standard", export_as="pdf").execute(doubles.context(ti))

    assert result["status"] == "completed"
    assert result["generationId"].startswith("gen_")
    assert result["gammaUrl"].startswith("https://gamma.app/docs/")
    assert "exportUrl" not in result  # a signed URL is a bearer secret: never in XCom (issue 24)
    assert "8-card presentation" in result["summary"]
    assert result["credits"]["deducted"] > 0
    assert ti.xcoms == {"generation_id": result["generationId"], "gamma_url": result["gammaUrl"]}
    [post] = [r for r in gamma_connection.requests if r.method == "POST" and r.path == AGENT]
    assert post.json is not None
    assert post.json["sourceUrls"] == SOURCES
    assert "title" not in post.json  # the agent takes no title: Gamma answers 400 to one
    assert gamma_connection.post_count("/v1.0/generations") == 0


def test_a_pending_agent_answer_that_already_names_its_gamma_is_still_pending(gamma_connection) -> None:
    gamma_connection.generation_seconds = 0.6
    generation_id = GammaHook().create_agent_generation("Deck")
    time.sleep(0.4)  # past half-way: the emulator, like Gamma, shows the gamma before it is done
    pending = GammaHook().get_generation(generation_id)
    assert pending["status"] == "pending"
    assert pending["gammaId"]
    assert pending["progress"]["totalCards"] == 8
    done = GammaHook().wait_for_generation(generation_id, poll_interval=0.05, timeout=10)
    assert done["status"] == "completed"


def test_agent_defaults_are_tuned_for_longer_runs() -> None:
    op = GammaAgentGenerateOperator(task_id="t", prompt="p")
    assert op.first_poll_delay == AGENT_FIRST_POLL_DELAY == 30
    assert op.poll_interval == 10
    assert op.timeout == 3600
    # Before: the window was the task's timeout, so a POST Gamma never acted on waited 60 minutes
    # before it was sent again. Now Gamma's pace sets it, not the task's patience.
    assert op.reconcile_window == AGENT_WINDOW == 1200
    assert GammaAgentGenerateOperator(task_id="t", prompt="p", timeout=600).reconcile_window == 1200
    assert GammaAgentGenerateOperator(task_id="t", prompt="p", reconcile_window=90).reconcile_window == 90


def test_deferred_agent_runs_share_the_one_trigger(gamma_connection) -> None:
    ti = doubles.TaskInstance()
    op = agent(deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        op.execute(doubles.context(ti))
    trigger = caught.value.trigger
    assert isinstance(trigger, GammaGenerationTrigger)
    assert trigger.generation_id.startswith("gen_")

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "success"
    result = op.execute_complete(doubles.context(ti), event)
    assert result["summary"]
    polls = [r.path for r in gamma_connection.requests if r.method == "GET"]
    assert polls
    assert all(path == f"{AGENT}/{trigger.generation_id}" for path in polls)


def test_a_retry_reattaches_to_the_agent_run(gamma_connection) -> None:
    store = doubles.StateStore()
    with pytest.raises(TaskDeferred):
        agent(deferrable=True).execute(doubles.context(store=store))
    first_id = store.values[submission.STATE_KEY]["generation_id"]
    assert agent().execute(doubles.context(store=store))["generationId"] == first_id
    assert gamma_connection.post_count(AGENT) == 1


def test_a_failed_agent_run_fails_with_gammas_message(gamma_connection) -> None:
    gamma_connection.fail_next_generation(message="Could not read any source URL")
    with pytest.raises(GammaGenerationFailedError, match="Could not read any source URL"):
        agent().execute(doubles.context())


def test_the_sensor_waits_on_an_agent_generation(gamma_connection) -> None:
    generation_id = GammaHook().create_agent_generation("Deck", format="social", export_as="png")
    result = GammaGenerationSensor(
        task_id="wait", generation_id=generation_id, poke_interval=0.05, timeout=10
    ).execute({})
    assert result["status"] == "completed"
    assert "exportUrl" not in result  # a signed URL is a bearer secret: never in XCom (issue 24)


def test_the_agent_deck_lands_as_pptx_and_again_as_pdf(gamma_connection, tmp_path: Path) -> None:
    result = agent(export_as="pptx").execute(doubles.context())
    for export_as in ("pptx", "pdf"):
        land = GammaExportToObjectStorageOperator(
            task_id=f"land_{export_as}",
            generation_id=result,
            export_as=export_as,
            dest=f"file://{tmp_path}/deck.{export_as}",
        )
        land.execute(doubles.context())
        landed = (tmp_path / f"deck.{export_as}").read_bytes()
        generation_id = result["generationId"]
        assert landed == gamma_connection.export_bytes(generation_id, export_as)
    assert gamma_connection.post_count(AGENT) == 1
