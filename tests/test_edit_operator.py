# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Agent edits of a standing deck: the same gamma and link, a new export of it, one edit per gamma at
a time, and never two edits paid for one. Real HTTP to the emulator; the task instance is the one
boundary stood in for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma import reconcile, submission
from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.exceptions import (
    GammaEditFailedError,
    GammaEditInProgressError,
    GammaNotFoundError,
    GammaParameterError,
    GammaSubmissionUncertainError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.edit import GammaAgentEditOperator
from airflow_provider_gamma.operators.export import GammaExportToObjectStorageOperator
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.triggers.gamma import GammaEditTrigger
from tests.doubles import StateStore, TaskInstance, context
from tests.reliability.conftest import connection
from tests.reliability.test_money_path import first_event, run_task


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=0.3) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emulator, timeout=5))
        yield emulator


@pytest.fixture
def deck(emu: GammaEmulator) -> str:
    """The standing board deck: a gamma made once, edited every week."""
    hook = GammaHook()
    generation = hook.wait_for_generation(
        hook.create_generation("Board deck\nRevenue: 1.0 M", text_mode="preserve"),
        poll_interval=0.05,
        timeout=10,
    )
    return str(generation["gammaId"])


def edits_path(gamma_id: str) -> str:
    return f"/v1.0/agent/gammas/{gamma_id}/edits"


def edit(gamma_id: Any = "g_1", **kwargs: Any) -> GammaAgentEditOperator:
    params: dict[str, Any] = {
        "task_id": "edit_deck",
        "gamma_id": gamma_id,
        "prompt": "Replace the revenue figure with 1.2 M",
        "poll_interval": 0.05,
        "first_poll_delay": 0.05,
        "reconcile_window": 2,
        "deferrable": False,
    }
    return GammaAgentEditOperator(**{**params, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma_id": " "}, r"gamma_id=' '.*gamma id"),
        ({"gamma_id": 7}, r"gamma_id=7.*gamma id"),
        ({"prompt": ""}, r"prompt.*1 to 400,000"),
        ({"quality": "best"}, r"quality='best'.*lite, standard, max"),
        ({"title": "New name"}, r"title='New name'.*keeps the gamma's title"),
        ({"files": "s3://bucket/figures.csv"}, r"files"),
        ({"files": [42]}, r"files"),
        ({"wait_for_completion": False}, r"wait_for_completion=False.*half-edited"),
    ],
)
def test_invalid_edit_parameters_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GammaParameterError, match=message):
        edit(**{"gamma_id": "g_1", **kwargs})


def test_an_edit_changes_the_same_gamma_in_place_and_a_new_export_lands_the_edited_deck(
    emu: GammaEmulator, deck: str, tmp_path: Path
) -> None:
    before = GammaHook().get_gamma(deck)
    pdf = tmp_path / "board.pdf"
    land = GammaExportToObjectStorageOperator(
        task_id="land", generation_id=f"gamma:{deck}", export_as="pdf", dest=pdf.as_uri(), poll_interval=0.05
    )
    land.execute(context())
    old_bytes = pdf.read_bytes()

    ti = TaskInstance()
    result = edit(deck).execute(context(ti))

    assert result["status"] == "completed"
    assert result["gammaId"] == deck
    assert result["gammaUrl"] == before["url"]  # the same link
    assert result["editId"]
    assert "generationId" not in result
    assert result["cost"]
    assert ti.xcoms["edit_id"] == result["editId"]
    assert ti.xcoms["generation_id"] == f"gamma:{deck}"
    after = GammaHook().get_gamma(deck)
    assert after["updatedTime"] != before["updatedTime"]
    assert emu.post_count(edits_path(deck)) == 1
    assert emu.post_count("/v1.0/generations") == 1  # the deck itself, nothing new

    # The export operator lands the edited deck: a fresh export of the same gamma.
    land = GammaExportToObjectStorageOperator(
        task_id="land",
        generation_id=ti.xcoms["generation_id"],
        export_as="pdf",
        dest=pdf.as_uri(),
        if_exists="overwrite",
        poll_interval=0.05,
    )
    land.execute(context())
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.read_bytes() != old_bytes


def deferred_event(op: GammaAgentEditOperator, ti: TaskInstance) -> Any:
    with pytest.raises(TaskDeferred) as caught:
        op.execute(context(ti))
    trigger = caught.value.trigger
    assert isinstance(trigger, GammaEditTrigger)
    assert trigger.serialize()[1]["edit_id"] == ti.xcoms["edit_id"]
    return asyncio.run(first_event(trigger))


def test_a_deferred_edit_waits_in_the_one_trigger_loop_and_returns_what_gamma_reported(
    emu: GammaEmulator, deck: str
) -> None:
    ti = TaskInstance()
    op = edit(deck, deferrable=True)
    event = deferred_event(op, ti)
    assert event["status"] == "success"
    assert event["edit_id"] == ti.xcoms["edit_id"]

    result = op.execute_complete(context(ti), event)

    assert result["status"] == "completed"
    assert result["gammaId"] == deck
    assert result["editId"] == ti.xcoms["edit_id"]
    assert result["credits"]["deducted"] > 0
    assert result["summary"]
    assert ti.xcoms["gamma_url"] == result["gammaUrl"]
    polls = {r.path for r in emu.requests if r.method == "GET" and r.path.startswith("/v1.0/agent/edits/")}
    assert polls == {f"/v1.0/agent/edits/{ti.xcoms['edit_id']}"}


def test_a_deferred_edit_that_failed_fails_the_task(emu: GammaEmulator, deck: str) -> None:
    emu.fail_next_edit(message="The agent could not finish the edit")
    ti = TaskInstance()
    op = edit(deck, deferrable=True)
    event = deferred_event(op, ti)
    assert event["status"] == "failed"
    with pytest.raises(GammaEditFailedError, match="could not finish the edit"):
        op.execute_complete(context(ti), event)


def test_a_gamma_that_cannot_be_read_fails_before_anything_is_paid(emu: GammaEmulator) -> None:
    with pytest.raises(GammaNotFoundError):
        edit("g_does_not_exist").execute(context())
    assert not emu.edits
    assert [r for r in emu.requests if r.method == "POST"] == []


def test_files_that_rendered_to_one_string_fail_naming_the_field(emu: GammaEmulator, deck: str) -> None:
    op = edit(deck, files="{{ ti.xcom_pull('figures') }}")
    op.files = "s3://reports/figures.csv"  # as rendered
    with pytest.raises(GammaParameterError, match=r"files.*list"):
        op.execute(context())
    assert not emu.uploads
    assert not emu.edits


def test_a_retry_reattaches_to_its_edit_and_a_clear_is_a_new_edit(emu: GammaEmulator, deck: str) -> None:
    store = StateStore()
    with pytest.raises(TaskDeferred):
        edit(deck, deferrable=True).execute(context(store=store))
    first = store.values[submission.STATE_KEY]["generation_id"]
    # A retry (same max_tries) re-attaches: no second edit.
    assert edit(deck).execute(context(store=store))["editId"] == first
    assert emu.post_count(edits_path(deck)) == 1
    # A clear (Airflow sets max_tries anew) is a new edit.
    cleared = edit(deck).execute(context(store=store, ti=TaskInstance(max_tries=5)))
    assert cleared["editId"] != first
    assert emu.post_count(edits_path(deck)) == 2


def test_a_second_edit_while_one_runs_is_refused_and_not_paid(emu: GammaEmulator, deck: str) -> None:
    emu.generation_seconds = 3.0
    running = GammaHook().create_edit(deck, "Add a card on churn")
    with pytest.raises(GammaEditInProgressError):
        edit(deck).execute(context())
    assert emu.post_count(edits_path(deck)) == 2  # refused: Gamma started (and bills) only the first
    assert GammaHook().get_edit(running)["status"] == "pending"


def test_a_failed_edit_fails_with_gammas_message_and_no_retry(emu: GammaEmulator, deck: str) -> None:
    emu.fail_next_edit(message="The agent could not read the uploaded file")
    with pytest.raises(GammaEditFailedError, match="could not read the uploaded file") as caught:
        edit(deck).execute(context())
    assert f"of gamma {deck}" in str(caught.value)
    assert emu.post_count(edits_path(deck)) == 1


# --- never pay twice ----------------------------------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["in-worker", "deferred"])
def test_a_lost_edit_answer_is_settled_by_the_gamma_changing_never_by_a_second_edit(
    emu: GammaEmulator, deck: str, deferrable: bool
) -> None:
    emu.add_fault(method="POST", path_prefix=edits_path(deck), status=502, created=True)
    before = GammaHook().get_gamma(deck)["updatedTime"]
    ti = TaskInstance()

    result = run_task(edit(deck, deferrable=deferrable, reconcile_window=4), context(ti))

    assert emu.post_count(edits_path(deck)) == 1
    assert len(emu.edits) == 1
    assert result["reconciled"] is True
    assert result["gammaId"] == deck
    assert "editId" not in ti.xcoms  # Gamma's answer, with the id, was lost
    assert ti.xcoms["generation_id"] == f"gamma:{deck}"
    assert GammaHook().get_gamma(deck)["updatedTime"] != before


def test_a_lost_answer_of_an_edit_gamma_never_made_is_sent_again_once_the_window_closed(
    emu: GammaEmulator, deck: str
) -> None:
    emu.add_fault(method="POST", path_prefix=edits_path(deck), status=502, times=1)  # not acted on
    result = run_task(edit(deck, reconcile_window=1), context())
    assert result["status"] == "completed"
    assert result["editId"]
    assert emu.post_count(edits_path(deck)) == 2
    assert len(emu.edits) == 1  # one edit made, one paid


def test_a_retry_after_a_try_that_died_mid_post_settles_from_the_record(
    emu: GammaEmulator, deck: str
) -> None:
    # Try 1 noted its record and sent the edit, which Gamma started, then the worker died.
    store = StateStore()
    op = edit(deck)
    before = GammaHook().get_gamma(deck)["updatedTime"]
    record = (
        reconcile.Submission(op._fingerprint(), max_tries=0).editing(deck, before).sending(None, time.time())
    )
    store.values[submission.STATE_KEY] = record.to_json()
    GammaHook().create_edit(deck, "Replace the revenue figure with 1.2 M")

    result = edit(deck).execute(context(store=store))

    assert result["reconciled"] is True
    assert result["gammaId"] == deck
    assert len(emu.edits) == 1  # the retry read the gamma instead of editing again


def test_without_reconcile_a_retry_after_a_lost_answer_gives_up_instead_of_editing_again(
    emu: GammaEmulator, deck: str
) -> None:
    store = StateStore()
    emu.add_fault(method="POST", path_prefix=edits_path(deck), status=502, created=True)
    with pytest.raises(GammaSubmissionUncertainError):
        edit(deck, reconcile=False).execute(context(store=store))
    with pytest.raises(GammaSubmissionUncertainError, match="reconcile=False"):
        edit(deck, reconcile=False).execute(context(store=store))
    assert emu.post_count(edits_path(deck)) == 1
