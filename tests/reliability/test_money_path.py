# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The money path: a POST whose answer is lost is settled by its reference instead of failing the run
or paying twice, a retry re-attaches while a clear makes a new deck, and ``execution_timeout`` cannot
cut a POST short. Real HTTP to the emulator; the task instance is the one boundary stood in for."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma import reconcile, submission
from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.exceptions import GammaError, GammaSubmissionUncertainError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import (
    GammaAgentGenerateOperator,
    GammaGenerateFromTemplateOperator,
    GammaGenerateOperator,
)
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
from airflow_provider_gamma.testing import GammaEmulator
from tests.doubles import StateStore, TaskInstance, context
from tests.reliability.conftest import connection

GENERATIONS = "/v1.0/generations"
AGENT = "/v1.0/agent/generations"
SEARCH = "/v1.0/gammas/search"
REFERENCE = re.compile(rf" \[[{reconcile.REFERENCE_ALPHABET}]{{{reconcile.REFERENCE_LENGTH}}}\]$")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=0.5) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emulator, timeout=5))
        yield emulator


def agent_task(**kwargs: Any) -> GammaAgentGenerateOperator:
    params: dict[str, Any] = {
        "task_id": "agent",
        "prompt": "Board update: revenue up 4 %",
        "poll_interval": 0.2,
        "first_poll_delay": 0.2,
        "reconcile_window": 3,
        "deferrable": False,
    }
    return GammaAgentGenerateOperator(**{**params, **kwargs})


def generate(**kwargs: Any) -> GammaGenerateOperator:
    params: dict[str, Any] = {
        "task_id": "generate",
        "input_text": "Weekly figures\nRevenue up 4 %",
        "poll_interval": 0.2,
        "first_poll_delay": 0.2,
        "reconcile_window": 3,
        "deferrable": False,
    }
    return GammaGenerateOperator(**{**params, **kwargs})


async def first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def run_task(op: Any, ctx: dict[str, Any]) -> Any:
    """Run ``op`` as Airflow would: execute, and on each deferral run the trigger and resume."""
    call = op.execute
    args: tuple[Any, ...] = (ctx,)
    kwargs: dict[str, Any] = {}
    while True:
        try:
            return call(*args, **kwargs)
        except TaskDeferred as deferred:
            event = asyncio.run(first_event(deferred.trigger))
            call, args, kwargs = getattr(op, deferred.method_name), (ctx, event), deferred.kwargs or {}


def created(emu: GammaEmulator) -> Counter[str]:
    """Generations Gamma created (and bills), counted per input text."""
    return Counter(g.input for g in emu.generations.values())


def sent_titles(emu: GammaEmulator) -> list[str]:
    return [
        str((r.json or {}).get("title")) for r in emu.requests if r.method == "POST" and r.path == GENERATIONS
    ]


# --- 1. an uncertain POST is settled, not failed ---------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-worker", "deferred"])
def test_a_502_after_gamma_started_the_deck_is_settled_by_its_reference(
    emu: GammaEmulator, deferrable: bool
) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    ti = TaskInstance()

    result = run_task(generate(deferrable=deferrable, export_as="pdf"), context(ti))

    [generation] = emu.generations.values()
    assert result["reconciled"] is True
    assert result["status"] == "completed"
    assert result["gammaId"] == generation.gamma_id
    assert result["gammaUrl"] == generation.gamma_url == ti.xcoms["gamma_url"]
    assert result["generationId"] is None
    assert result["exportAs"] == "pdf"
    assert created(emu) == {"Weekly figures\nRevenue up 4 %": 1}
    [title] = sent_titles(emu)
    assert title.startswith("Weekly figures [")
    assert REFERENCE.search(title)
    assert [r.status for r in emu.requests if r.path == SEARCH][-1] == 200


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-worker", "deferred"])
@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}], ids=["502", "dropped"])
def test_an_uncertain_agent_post_fails_listing_the_candidates_and_pays_nothing_more(
    emu: GammaEmulator, deferrable: bool, fault: dict[str, Any]
) -> None:
    """Before: the agent POST carried the reference in a title, which Gamma's agent endpoint refuses
    (400), and the deck was 'settled by its reference'. The agent takes no title: the gammas changed
    since the POST are the candidates, and which is the deck cannot be told, so the task fails
    without a retry, listing them for a person, and never picks one."""
    emu.add_fault(method="POST", path_prefix=AGENT, created=True, **fault)

    with pytest.raises(GammaSubmissionUncertainError) as caught:
        run_task(agent_task(deferrable=deferrable), context())

    [generation] = emu.generations.values()
    message = str(caught.value)
    assert "no reference in the title" in message
    assert f"gamma {generation.gamma_id}" in message
    assert generation.gamma_url in message
    assert "GammaExportToObjectStorageOperator(gamma_id=...)" in message
    assert emu.post_count(AGENT) == 1
    [post] = [r for r in emu.requests if r.path == AGENT]
    assert "title" not in post.json


def test_a_post_gamma_never_acted_on_is_sent_again_once_the_window_closes(emu: GammaEmulator) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=False)

    result = generate().execute(context())

    assert result["status"] == "completed"
    assert "reconciled" not in result
    assert created(emu) == {"Weekly figures\nRevenue up 4 %": 1}
    posts = [r for r in emu.requests if r.method == "POST"]
    assert [r.status for r in posts] == [502, 200]
    first, second = sent_titles(emu)
    assert first != second, "a resubmission carries a new reference"
    searches = [r for r in emu.requests if r.path == SEARCH]
    # It looked until the window closed, and only then sent the request again.
    assert len(searches) >= 2
    # The window runs from just before the POST left; the emulator notes its arrival a moment later.
    assert posts[1].time - posts[0].time >= 2.9
    assert searches[-1].time < posts[1].time


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html><body>Down for maintenance</body></html>"},
        {"status": 200, "body": {"generationId": None}},
        {"status": 201, "body": {}},
        {"status": 204, "body": b""},
        {"truncate_at": 10},
    ],
    ids=["html", "null-id", "no-id", "204", "truncated-json"],
)
def test_a_2xx_answer_without_a_readable_id_is_uncertain_and_settled(
    emu: GammaEmulator, fault: dict[str, Any]
) -> None:
    """Before: a retryable protocol error, and the Airflow retry POSTed (and paid) again."""
    emu.add_fault(method="POST", path_prefix=GENERATIONS, created=True, **fault)
    store = StateStore()

    result = generate(retries=1).execute(context(TaskInstance(1, max_tries=1), store))
    again = generate(retries=1).execute(context(TaskInstance(2, max_tries=1), store))

    assert result["reconciled"] is True
    assert again["gammaId"] == result["gammaId"]
    assert created(emu) == {"Weekly figures\nRevenue up 4 %": 1}


def test_from_template_posts_are_settled_the_same_way(emu: GammaEmulator) -> None:
    template = generate().execute(context())["gammaId"]
    emu.add_fault(method="POST", path_prefix=f"{GENERATIONS}/from-template", status=504, created=True)
    op = GammaGenerateFromTemplateOperator(
        task_id="remix", gamma_id=template, prompt="This week: revenue up 4 %", reconcile_window=3
    )

    result = op.execute(context())

    assert result["reconciled"] is True
    assert Counter(g.kind for g in emu.generations.values()) == {"generate": 1, "template": 1}


def test_an_endpoint_that_refuses_a_title_still_gets_its_deck_without_the_reference(
    emu: GammaEmulator,
) -> None:
    template = generate().execute(context())["gammaId"]
    refusal = {"message": ["property title should not exist"], "statusCode": 400, "error": "Bad Request"}
    emu.add_fault(method="POST", path_prefix=f"{GENERATIONS}/from-template", status=400, body=refusal)
    op = GammaGenerateFromTemplateOperator(task_id="remix", gamma_id=template, prompt="This week")

    result = op.execute(context())

    assert result["status"] == "completed"
    bodies = [r.json for r in emu.requests if r.path == f"{GENERATIONS}/from-template"]
    assert "title" in bodies[0]
    assert "title" not in bodies[1]
    assert len(emu.generations) == 2  # the template and the remix


def test_when_search_cannot_answer_the_task_fails_with_the_evidence_and_pays_nothing_more(
    emu: GammaEmulator,
) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    emu.add_fault(method="GET", path_prefix=SEARCH, status=403, times=None)

    with pytest.raises(GammaSubmissionUncertainError) as caught:
        generate().execute(context())

    message = str(caught.value)
    assert "search failed" in message
    assert re.search(r"reference [0-9a-z]{6} in the deck title, POST sent 20\d\d-", message)
    assert len(emu.generations) == 1
    assert [r.method for r in emu.requests if r.path == GENERATIONS] == ["POST"]


def test_search_that_keeps_failing_never_leads_to_a_resubmission(emu: GammaEmulator) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=False)
    emu.add_fault(method="GET", path_prefix=SEARCH, status=503, times=None)
    op = generate(reconcile_window=1)
    op.hook.retry_policy = RetryPolicy(max_attempts=2, backoff=0.05, jitter=False)

    with pytest.raises(GammaSubmissionUncertainError, match="the last search failed"):
        op.execute(context())

    assert len([r for r in emu.requests if r.path == GENERATIONS]) == 1


def test_without_reconcile_the_title_is_left_alone_and_an_uncertain_post_fails(emu: GammaEmulator) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)

    with pytest.raises(
        GammaSubmissionUncertainError, match="With reconcile=False the deck cannot be looked for"
    ):
        generate(reconcile=False, title="Weekly deck").execute(context())

    assert sent_titles(emu) == ["Weekly deck"]
    assert not [r for r in emu.requests if r.path == SEARCH]


def test_a_user_title_keeps_its_words_and_gets_the_reference(emu: GammaEmulator) -> None:
    long_title = "Q" * 500
    generate(title="Weekly deck for {{ ds }}").execute(context())
    generate(title=long_title).execute(context())

    first, second = sent_titles(emu)
    assert REFERENCE.sub("", first) == "Weekly deck for {{ ds }}"
    assert len(second) == 500
    assert REFERENCE.search(second)


def test_twenty_generate_export_chains_succeed_through_periodic_429s_and_502s(
    emu: GammaEmulator, tmp_path: Path
) -> None:
    """The target: 429 on every 3rd request and 502 on every 7th (POSTs included, Gamma having acted
    on the 502'd ones), 20 decks at once, each generated exactly once and landed whole."""
    # Every 7th POST meets its own 502, so that however the 20 chains interleave POSTs are hit;
    # then 429 on every 3rd and 502 on every 7th of all the requests the first rule let through.
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, every=7, times=None, created=True)
    emu.add_fault(status=429, retry_after=0.1, every=3, times=None)
    emu.add_fault(status=502, every=7, times=None, created=True)
    policy = RetryPolicy(backoff=0.05, rate_limit_backoff=0.1, jitter=False, max_attempts=8)

    def chain(i: int) -> list[dict[str, Any]]:
        op = generate(
            task_id=f"generate_{i:02d}", input_text=f"Deck {i:02d}", export_as="pdf", deferrable=True
        )
        op.hook.retry_policy = policy
        result = run_task(op, context())
        export = GammaExportToObjectStorageOperator(
            task_id=f"land_{i:02d}", generation_id=result, dest=f"{tmp_path.as_uri()}/deck-{i:02d}.pdf"
        )
        export.hook.retry_policy = policy
        return export.execute(context())  # type: ignore[arg-type]

    async def all_chains() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(asyncio.to_thread(chain, i) for i in range(20)))

    landed = asyncio.run(all_chains())

    assert created(emu) == {f"Deck {i:02d}": 1 for i in range(20)}
    for i, [item] in enumerate(landed):
        [generation] = [g for g in emu.generations.values() if g.input == f"Deck {i:02d}"]
        assert (tmp_path / f"deck-{i:02d}.pdf").read_bytes() == emu.export_bytes(generation.generation_id)
        assert item["size"] == (tmp_path / f"deck-{i:02d}.pdf").stat().st_size
    statuses = Counter(r.status for r in emu.requests if r.method == "POST" and r.path == GENERATIONS)
    assert statuses[502] >= 2  # POSTs 7 and 14 at least


# --- 2. a retry is not a clear -------------------------------------------------------------------


def test_a_clear_after_success_makes_a_new_deck_and_a_retry_does_not(emu: GammaEmulator) -> None:
    """Before (Airflow 3.3): the clear got last run's deck back from the task state store, no POST."""
    store = StateStore()
    first = generate(retries=2).execute(context(TaskInstance(1, max_tries=2), store))
    retry = generate(retries=2).execute(context(TaskInstance(2, max_tries=2), store))
    # The user clears the task after try 2: Airflow sets max_tries = 2 + retries.
    cleared = generate(retries=2).execute(context(TaskInstance(3, max_tries=4), store))

    assert retry["generationId"] == first["generationId"]
    assert cleared["generationId"] != first["generationId"]
    assert len(emu.generations) == 2


def test_new_input_is_a_new_deck_even_in_the_same_try_epoch(emu: GammaEmulator) -> None:
    store = StateStore()
    first = generate(retries=1).execute(context(TaskInstance(1, max_tries=1), store))
    changed = generate(retries=1, input_text="Weekly figures\nRevenue up 5 %").execute(
        context(TaskInstance(2, max_tries=1), store)
    )

    assert changed["generationId"] != first["generationId"]
    assert sorted(created(emu).values()) == [1, 1]


def test_a_failed_deck_is_resubmitted_on_a_clear_but_not_on_a_retry(emu: GammaEmulator) -> None:
    store = StateStore()
    emu.fail_next_generation(message="Image model overloaded")
    with pytest.raises(Exception, match="Image model overloaded"):
        generate(retries=1).execute(context(TaskInstance(1, max_tries=1), store))
    with pytest.raises(Exception, match="resubmit_failed=True"):
        generate(retries=1).execute(context(TaskInstance(2, max_tries=1), store))
    result = generate(retries=1).execute(context(TaskInstance(3, max_tries=3), store))

    assert result["status"] == "completed"
    assert len(emu.generations) == 2


def test_a_retry_after_a_try_that_died_mid_post_looks_for_its_deck(emu: GammaEmulator) -> None:
    """A try killed during the POST (SIGKILL, or Airflow's own timeout) leaves only its record: the
    reference and the time. Here the first try cannot search (503s) and stops, as a killed try would."""
    store = StateStore()
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    searches_down = emu.add_fault(method="GET", path_prefix=SEARCH, status=503, times=None)
    first = generate(retries=1, reconcile_window=0.1)
    first.hook.retry_policy = RetryPolicy(max_attempts=1)
    with pytest.raises(GammaSubmissionUncertainError):
        first.execute(context(TaskInstance(1, max_tries=1), store))
    record = store.values[submission.STATE_KEY]
    assert record["marker"]
    assert record["generation_id"] is None
    emu.clear_faults()
    assert searches_down.hits >= 1

    result = generate(retries=1).execute(context(TaskInstance(2, max_tries=1), store))

    assert result["reconciled"] is True
    assert len(emu.generations) == 1
    assert len([r for r in emu.requests if r.path == GENERATIONS]) == 1


def test_a_retry_after_a_refused_post_submits_at_once_without_searching(emu: GammaEmulator) -> None:
    """A POST Gamma refused (here 429s to the end of the policy) certainly started nothing."""
    store = StateStore()
    refusals = emu.add_fault(method="POST", path_prefix=GENERATIONS, status=429, retry_after=0.01, times=2)
    first = generate(retries=1)
    first.hook.retry_policy = RetryPolicy(max_attempts=2, jitter=False)
    with pytest.raises(GammaError, match="Too many requests"):
        first.execute(context(TaskInstance(1, max_tries=1), store))
    assert refusals.hits == 2

    result = generate(retries=1).execute(context(TaskInstance(2, max_tries=1), store))

    assert result["status"] == "completed"
    assert not [r for r in emu.requests if r.path == SEARCH]
    assert len(emu.generations) == 1


# --- 3. execution_timeout during the POST --------------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-worker", "deferred"])
def test_a_post_slower_than_execution_timeout_settles_in_time(emu: GammaEmulator, deferrable: bool) -> None:
    """Before: the POST outlived ``execution_timeout`` (Airflow killed the try, the id was never
    stored, the retry paid again). Now it is cut in time (8 s less a 5 s margin, within the
    connection's 5 s) and settled by its reference. Deferred, within the try; in the worker, waiting
    to see the deck finished does not fit in what ``execution_timeout`` leaves (before: the deck was
    returned unconfirmed), so the try stops in time and the retry confirms it from the record."""
    emu.add_fault(method="POST", path_prefix=GENERATIONS, delay=20, created=True)
    store, took = StateStore(), []

    def one_try(try_number: int) -> Any:
        op = generate(execution_timeout=timedelta(seconds=8), deferrable=deferrable, retries=1)
        began = time.monotonic()
        try:
            return run_task(op, context(TaskInstance(try_number, max_tries=1), store))
        finally:
            took.append(time.monotonic() - began)

    if deferrable:
        result = one_try(1)
    else:
        with pytest.raises(GammaError, match="the next try keeps looking"):
            one_try(1)
        result = one_try(2)

    assert result["reconciled"] is True
    assert len(emu.generations) == 1
    assert max(took) < 8, f"a try took {max(took):.1f} s, longer than execution_timeout"
    [post] = [r for r in emu.requests if r.path == GENERATIONS]
    first_search = next(r for r in emu.requests if r.path == SEARCH)
    assert 2.5 < first_search.time - post.time < 4, "the POST was not cut at what execution_timeout left"


# --- 4. issue 23: what the real service can settle, and what a person must ----------------------


def test_without_search_the_user_is_told_at_connection_test_and_at_the_first_uncertain_post(
    emu: GammaEmulator,
) -> None:
    """A workspace Gamma has not rolled search out to (403) hears it before any deck (the Test
    button) and in the first uncertain POST's error, at once rather than after the window."""
    emu.search_enabled = False
    ok, message = GammaHook().test_connection()
    assert ok
    assert "search is not enabled for this workspace" in message
    assert "cannot be settled automatically" in message
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)

    began = time.monotonic()
    with pytest.raises(GammaSubmissionUncertainError) as caught:
        generate(reconcile_window=600).execute(context())

    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert "search is not enabled for this workspace yet" in message
    assert "cannot be settled automatically" in message
    assert len(emu.generations) == 1
    assert emu.post_count(GENERATIONS) == 1
    assert [r.status for r in emu.requests if r.path == SEARCH] == [403, 403]  # test button, lookup


def test_an_agent_post_gamma_never_acted_on_is_sent_again_once_no_gamma_appeared(emu: GammaEmulator) -> None:
    emu.add_fault(method="POST", path_prefix=AGENT, status=502, created=False)

    result = agent_task(reconcile_window=2).execute(context())

    assert result["generationId"].startswith("gen_")
    assert result["status"] == "completed"
    assert [r.status for r in emu.requests if r.path == AGENT] == [502, 202]
    assert len(emu.generations) == 1


def test_a_reconciled_deck_serves_the_sensor_pattern_the_link_and_the_export(
    emu: GammaEmulator, tmp_path: Path
) -> None:
    """Before: a deck settled by search pushed XCom generation_id=None, so the documented
    ``wait_for_completion=False`` + ``GammaGenerationSensor`` pattern polled /generations/None, got
    404 and failed without retry, and the re-run paid again."""
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    ti = TaskInstance()

    result = run_task(generate(wait_for_completion=False, export_as="pdf"), context(ti))

    [generation] = emu.generations.values()
    assert result["reconciled"] is True
    # "{{ ti.xcom_pull('generate', key='generation_id') }}" renders to what was pushed
    assert ti.xcoms["generation_id"] == f"gamma:{generation.gamma_id}"
    assert ti.xcoms["gamma_url"] == generation.gamma_url  # the "View in Gamma" link
    for deferrable in (False, True):
        sensor = GammaGenerationSensor(
            task_id="wait",
            generation_id=ti.xcoms["generation_id"],
            poke_interval=0.1,
            timeout=10,
            deferrable=deferrable,
        )
        waited = sensor.execute(context())
        assert {key: waited[key] for key in ("generationId", "status", "gammaId", "gammaUrl")} == {
            "generationId": None,
            "status": "completed",
            "gammaId": generation.gamma_id,
            "gammaUrl": generation.gamma_url,
        }
    assert not [r for r in emu.requests if r.path.startswith(f"{GENERATIONS}/")]
    land = GammaExportToObjectStorageOperator(
        task_id="land", generation_id=result, dest=f"{tmp_path.as_uri()}/deck.pdf"
    )
    [landed] = land.execute(context())  # type: ignore[arg-type]
    assert (tmp_path / "deck.pdf").read_bytes().startswith(b"%PDF")
    assert landed["size"] == (tmp_path / "deck.pdf").stat().st_size


def test_a_deck_found_while_still_being_written_is_returned_only_once_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the first hit carrying the reference was returned as completed. Here search shows a
    deck from half-way through its generation (8 s): the task returns it only once its updatedTime
    stopped changing (a 1 s quiet period, shortened for the test), after its generation ended."""
    monkeypatch.setattr(reconcile, "QUIET_PERIOD", 1.0)
    with GammaEmulator(generation_seconds=8, searchable_while_pending=True) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emu, timeout=5))
        emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)

        result = generate(reconcile_window=10).execute(context())
        returned = time.monotonic()

        [generation] = emu.generations.values()
        assert result["reconciled"] is True
        assert result["gammaId"] == generation.gamma_id
        assert returned >= generation.ready_at, "a deck still being written was returned as completed"
        reads = [r for r in emu.requests if r.path == f"/v1.0/gammas/{generation.gamma_id}"]
        assert len(reads) >= 2


def test_the_title_reference_can_be_switched_off_once_for_a_connection(
    emu: GammaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emu, timeout=5, title_reference=False))

    generate().execute(context())
    generate(title="Weekly deck").execute(context())
    generate(title="Weekly deck", title_reference=True).execute(context())  # a task may turn it on

    first, second, third = [r.json for r in emu.requests if r.method == "POST" and r.path == GENERATIONS]
    assert "title" not in first  # Gamma names the deck, as without this provider
    assert second["title"] == "Weekly deck"
    assert REFERENCE.sub("", third["title"]) == "Weekly deck"


def test_without_the_reference_a_lost_answer_is_sent_again_only_if_no_gamma_changed(
    emu: GammaEmulator,
) -> None:
    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=False)
    again = generate(title_reference=False).execute(context())

    assert again["status"] == "completed"
    assert [r.status for r in emu.requests if r.path == GENERATIONS] == [502, 200]

    emu.add_fault(method="POST", path_prefix=GENERATIONS, status=502, created=True)
    with pytest.raises(GammaSubmissionUncertainError) as caught:
        generate(title_reference=False, input_text="Board update").execute(context())

    [lost] = [g for g in emu.generations.values() if g.input == "Board update"]
    message = str(caught.value)
    assert f"gamma {lost.gamma_id}" in message
    assert "(2, newest first)" in message  # the earlier deck is a candidate too: no picking
    assert len(emu.generations) == 2
