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

from airflow_provider_gamma import submission
from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.exceptions import GammaError, GammaSubmissionUncertainError
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.operators.gamma import (
    GammaAgentGenerateOperator,
    GammaGenerateFromTemplateOperator,
    GammaGenerateOperator,
)
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing import GammaEmulator
from tests.doubles import StateStore, TaskInstance, context
from tests.reliability.conftest import connection

GENERATIONS = "/v1.0/generations"
SEARCH = "/v1.0/gammas/search"
REFERENCE = re.compile(r" \[gx[0-9a-f]{10}\]$")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=0.5) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emulator, timeout=5))
        yield emulator


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
    assert title.startswith("Weekly figures [gx")
    assert REFERENCE.search(title)
    assert [r.status for r in emu.requests if r.path == SEARCH][-1] == 200


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-worker", "deferred"])
@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}], ids=["502", "dropped"])
def test_an_uncertain_agent_post_is_settled_by_its_reference_too(
    emu: GammaEmulator, deferrable: bool, fault: dict[str, Any]
) -> None:
    emu.add_fault(method="POST", path_prefix="/v1.0/agent/generations", created=True, **fault)
    op = GammaAgentGenerateOperator(
        task_id="agent",
        prompt="Board update: revenue up 4 %",
        poll_interval=0.2,
        first_poll_delay=0.2,
        reconcile_window=3,
        deferrable=deferrable,
    )

    result = run_task(op, context())

    [generation] = emu.generations.values()
    assert generation.kind == "agent"
    assert result["reconciled"] is True
    assert result["gammaId"] == generation.gamma_id
    assert created(emu) == {"Board update: revenue up 4 %": 1}
    assert emu.post_count("/v1.0/agent/generations") == 1


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
    assert posts[1].time - posts[0].time >= 3
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
    assert re.search(r"reference gx[0-9a-f]{10} in the deck title, POST sent 20\d\d-", message)
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
    connection's 5 s) and settled by its reference within the try."""
    emu.add_fault(method="POST", path_prefix=GENERATIONS, delay=20, created=True)
    op = generate(execution_timeout=timedelta(seconds=8), deferrable=deferrable)

    began = time.monotonic()
    result = run_task(op, context())
    took = time.monotonic() - began

    assert result["reconciled"] is True
    assert len(emu.generations) == 1
    assert took < 8, f"the try took {took:.1f} s, longer than execution_timeout"
    [post] = [r for r in emu.requests if r.path == GENERATIONS]
    first_search = next(r for r in emu.requests if r.path == SEARCH)
    assert 2.5 < first_search.time - post.time < 4, "the POST was not cut at what execution_timeout left"
