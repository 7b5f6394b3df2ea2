# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Errors no retry can fix fail the task in its first try, although every task has ``retries=3``: no
retry burns time or credits, and the log says what Gamma said."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from airflow_provider_gamma.testing import GammaEmulator
from tests.reliability.conftest import DagRunResult, connection, run_dag

GENERATIONS = "/v1.0/generations"


@pytest.fixture(scope="module")
def fail_fast_run(airflow_home: Path) -> Iterator[tuple[DagRunResult, dict[str, GammaEmulator]]]:
    """``rel_fail_fast`` run once; each task's connection points at an emulator set up for its error."""
    with ExitStack() as stack:
        emus = {
            name: stack.enter_context(GammaEmulator(generation_seconds=0.3))
            for name in ("main", "no_credits", "forbidden", "unprocessable", "post_hangs")
        }
        emus["no_credits"].credits = 0
        emus["forbidden"].add_fault(
            method="POST",
            status=403,
            body={
                "message": "You do not have permission to create gammas in this workspace",
                "statusCode": 403,
            },
            times=None,
        )
        emus["unprocessable"].add_fault(
            method="POST",
            status=422,
            body={"message": ["numCards must not be greater than 60"], "statusCode": 422},
            times=None,
        )
        emus["post_hangs"].add_fault(method="POST", delay=3.0, created=True, times=None)
        env = {
            "AIRFLOW_CONN_GAMMA_DEFAULT": connection(emus["main"]),
            "AIRFLOW_CONN_GAMMA_BAD_KEY": connection(emus["main"], key="sk-gamma-revoked-key"),
            "AIRFLOW_CONN_GAMMA_NO_CREDITS": connection(emus["no_credits"]),
            "AIRFLOW_CONN_GAMMA_FORBIDDEN": connection(emus["forbidden"]),
            "AIRFLOW_CONN_GAMMA_UNPROCESSABLE": connection(emus["unprocessable"]),
            "AIRFLOW_CONN_GAMMA_POST_HANGS": connection(emus["post_hangs"], timeout=0.5),
        }
        yield run_dag(airflow_home, "rel_fail_fast", env), emus


def task_log(result: DagRunResult, task_id: str) -> str:
    """The lines ``dags test`` printed while it ran ``task_id`` (tasks run one after another)."""
    pattern = re.compile(
        rf"\[DAG TEST\] starting task_id={task_id} .*?\[DAG TEST\] end task task_id={task_id} ", re.S
    )
    match = pattern.search(result.output)
    assert match, f"no log of {task_id}"
    return match.group(0)


CASES = {
    # task_id: (exception class, what the log must say, POSTs the task's emulator saw)
    "bad_key": ("GammaAuthenticationError", "HTTP 401: POST /v1.0/generations: Invalid API key.", 1),
    "no_credits": (
        "GammaInsufficientCreditsError",
        "HTTP 403: POST /v1.0/generations: Insufficient credits",
        1,
    ),
    "no_permission": (
        "GammaPermissionError",
        "HTTP 403: POST /v1.0/generations: You do not have permission to create gammas in this workspace",
        1,
    ),
    "rejected_400": (
        "GammaValidationError",
        "HTTP 400: POST /v1.0/generations: Input validation errors: 1. property slideCount should not exist",
        1,
    ),
    "rejected_422": (
        "GammaValidationError",
        "HTTP 422: POST /v1.0/generations: numCards must not be greater than 60",
        1,
    ),
    "failed_generation": ("GammaGenerationFailedError", "An error occurred while generating the gamma.", 1),
    "failed_generation_deferred": (
        "GammaGenerationFailedError",
        "An error occurred while generating the gamma.",
        1,
    ),
    "unknown_generation": (
        "GammaNotFoundError",
        "HTTP 404: GET /v1.0/agent/generations/gen_does_not_exist",
        0,
    ),
    "post_timeout": ("GammaSubmissionUncertainError", "not sending it again blindly", 1),
}


def test_the_run_fails_fast(fail_fast_run: tuple[DagRunResult, dict[str, GammaEmulator]]) -> None:
    result, _ = fail_fast_run
    assert result.returncode != 0
    assert set(result.tis) == {(task_id, -1) for task_id in CASES}
    # Nine failures, no backoff: the slowest task is the POST that hangs past its 0.5 s timeout.
    assert result.seconds < 90


@pytest.mark.parametrize("task_id", sorted(CASES))
def test_error_fails_the_task_in_one_try_with_gammas_message(
    fail_fast_run: tuple[DagRunResult, dict[str, GammaEmulator]], task_id: str
) -> None:
    result, emus = fail_fast_run
    error_class, message, _ = CASES[task_id]
    ti = result.ti(task_id)
    assert ti["state"] == "failed"
    assert ti["try_number"] == 1, f"{task_id} was retried"
    log = task_log(result, task_id)
    assert f"airflow_provider_gamma.exceptions.{error_class}: " in log
    assert message in log
    assert "up_for_retry" not in log.lower()
    for emu in emus.values():
        assert emu.api_key not in log


def test_post_counts_per_error(fail_fast_run: tuple[DagRunResult, dict[str, GammaEmulator]]) -> None:
    """One POST per task that POSTs at all, none after the error: nothing was re-sent."""
    _, emus = fail_fast_run
    main_posts = [r for r in emus["main"].requests if r.method == "POST" and r.path == GENERATIONS]
    by_key = {r.headers.get("x-api-key") == emus["main"].api_key for r in main_posts}
    assert len(main_posts) == 4  # bad_key (401), rejected_400, failed_generation, failed_generation_deferred
    assert by_key == {True, False}
    assert [r.status for r in main_posts].count(401) == 1
    for name in ("no_credits", "forbidden", "unprocessable", "post_hangs"):
        assert emus[name].post_count() == 1, name
    assert emus["no_credits"].generations == {}
    # The hung POST did start a (billed) generation: exactly why it must not be sent again.
    assert len(emus["post_hangs"].generations) == 1


def test_failed_generation_names_its_id(fail_fast_run: tuple[DagRunResult, dict[str, GammaEmulator]]) -> None:
    result, emus = fail_fast_run
    failed = {g.input: g.generation_id for g in emus["main"].generations.values() if g.status == "failed"}
    assert len(failed) == 2
    for task_id, generation_id in (
        ("failed_generation", failed["Board deck [[emulator:fail]]"]),
        ("failed_generation_deferred", failed["Board deck (deferred) [[emulator:fail]]"]),
    ):
        log = task_log(result, task_id)
        assert f"Gamma generation {generation_id} failed: HTTP 500: An error occurred" in log
        assert "Not retrying, since a retry would pay for a new generation" in log


def test_submission_uncertain_names_the_risk(
    fail_fast_run: tuple[DagRunResult, dict[str, GammaEmulator]],
) -> None:
    log = task_log(fail_fast_run[0], "post_timeout")
    assert "check your Gamma workspace for a new gamma before re-running the task" in log
    assert json.dumps("ReadTimeout")[1:-1] in log
