# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""No signed export URL in a task's result, XCom or trigger event: the export operator asks Gamma for
the URL itself when it lands the file, from the generation's or the gamma's id (issue 24, item 3).
The same end to end, with every file and table of the Airflow home searched: tests/reliability/test_secrets.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gamma._signed_urls import has_signed_url, without_signed_urls
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.export import (
    GammaExportNotRequestedError,
    GammaExportToObjectStorageOperator,
)
from airflow_provider_gamma.operators.gamma import GammaAgentGenerateOperator, GammaGenerateOperator
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.sensors.gamma import GammaGenerationSensor
from airflow_provider_gamma.testing import GammaEmulator
from tests import doubles


def land(tmp_path: Path, **kwargs: Any) -> list[dict[str, Any]]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    op = GammaExportToObjectStorageOperator(
        task_id="land", download_retry_policy=RetryPolicy(max_attempts=2, backoff=0.01), **kwargs
    )
    return [dict(item) for item in op.execute({"outlet_events": OutletEventAccessors()})]  # type: ignore[arg-type]


def first_event(trigger: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    return asyncio.run(run())


def exports_read(emu: GammaEmulator) -> list[str]:
    return [r.path for r in emu.requests if r.method == "GET" and r.path.startswith("/v1.0/exports/")]


def test_signed_urls_are_taken_out_and_the_rest_kept() -> None:
    job = {
        "generationId": "g1",
        "status": "completed",
        "gammaUrl": "https://gamma.app/docs/x",
        "exportUrl": "u",
    }
    assert without_signed_urls(job) == {k: v for k, v in job.items() if k != "exportUrl"}
    assert "exportUrl" in job  # a copy: the caller's answer is left alone
    plain = {"generationId": "g1", "status": "pending"}
    assert without_signed_urls(plain) is plain
    assert has_signed_url(job)
    assert not has_signed_url(plain)
    assert not has_signed_url({"exportUrl": ""})
    assert not has_signed_url(None)


def test_a_generate_result_holds_no_signed_url_and_its_deck_still_lands(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    ti = doubles.TaskInstance()
    result = GammaGenerateOperator(
        task_id="generate", input_text="x", export_as="pptx", deferrable=False, poll_interval=0.05
    ).execute(doubles.context(ti))  # type: ignore[arg-type]

    assert result["status"] == "completed"
    assert result["gammaUrl"].startswith("https://gamma.app/docs/")  # the shareable link stays
    assert "exportUrl" not in result
    assert "signature=" not in json.dumps([result, ti.xcoms])
    # Given the result (generate.output), the export operator reads the generation for the URL itself.
    [landed] = land(tmp_path, generation_id=result, dest=f"{tmp_path}/deck.pptx")
    assert (tmp_path / "deck.pptx").read_bytes() == gamma_connection.export_bytes(result["generationId"])
    assert landed["uri"].endswith("deck.pptx")


def test_a_deferred_generate_result_holds_no_signed_url(gamma_connection: GammaEmulator) -> None:
    from airflow_provider_gamma._compat import TaskDeferred

    ti = doubles.TaskInstance()
    op = GammaAgentGenerateOperator(
        task_id="agent",
        prompt="Otters",
        export_as="pdf",
        deferrable=True,
        first_poll_delay=0,
        poll_interval=0.05,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(doubles.context(ti))  # type: ignore[arg-type]
    event = first_event(deferred.value.trigger)

    result = op.execute_complete(doubles.context(ti), event, **(deferred.value.kwargs or {}))  # type: ignore[arg-type]

    assert event["has_export_url"] is True
    assert result["summary"]
    assert result["gammaUrl"]
    assert "exportUrl" not in result
    assert "signature=" not in json.dumps([event, result, ti.xcoms])


def test_an_older_triggerers_event_with_the_url_gives_a_result_without_it(
    gamma_connection: GammaEmulator,
) -> None:
    generation_id = GammaHook().create_generation("x", export_as="pdf")
    done = GammaHook().wait_for_generation(generation_id, poll_interval=0.05, timeout=30)
    event = {"status": "success", "generation_id": generation_id, "message": "ok", "generation": dict(done)}
    assert done["exportUrl"]

    generate = GammaGenerateOperator(task_id="generate", input_text="x")
    sensor = GammaGenerationSensor(task_id="wait", generation_id=generation_id)
    for result in (generate.execute_complete(doubles.context(), event), sensor.execute_complete({}, event)):  # type: ignore[arg-type]
        assert result["gammaId"] == done["gammaId"]
        assert "exportUrl" not in result


def test_the_sensor_returns_no_signed_url(gamma_connection: GammaEmulator) -> None:
    generation_id = GammaHook().create_generation("x", export_as="pdf")
    result = GammaGenerationSensor(
        task_id="wait", generation_id=generation_id, poke_interval=0.05, timeout=10
    ).execute(
        {}  # type: ignore[arg-type]
    )
    assert result["status"] == "completed"
    assert result["gammaUrl"]
    assert "exportUrl" not in result


def test_a_deferred_export_reads_the_export_once_more_for_its_url(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from airflow_provider_gamma._compat import TaskDeferred

    made = GammaHook().wait_for_generation(GammaHook().create_generation("x"), poll_interval=0.05, timeout=30)
    op = GammaExportToObjectStorageOperator(
        task_id="land",
        gamma_id=made["gammaId"],
        export_as="pdf",
        dest=f"{tmp_path}/deck.pdf",
        deferrable=True,
    )
    op.poll_interval = 0.05
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"outlet_events": OutletEventAccessors()})  # type: ignore[arg-type]
    event = first_event(deferred.value.trigger)
    assert "exportUrl" not in event["export"]
    polled = len(exports_read(gamma_connection))

    op.execute_complete({"outlet_events": OutletEventAccessors()}, event)  # type: ignore[arg-type]

    assert exports_read(gamma_connection)[polled:] == [f"/v1.0/exports/{event['export_id']}"]  # one GET
    assert (tmp_path / "deck.pdf").read_bytes() == gamma_connection.export_bytes(made["generationId"], "pdf")


def test_the_export_operator_takes_a_settled_decks_generation_id(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    """A deck settled by search after a lost POST answer has XCom generation_id ``gamma:<gammaId>``."""
    made = GammaHook().wait_for_generation(GammaHook().create_generation("x"), poll_interval=0.05, timeout=30)

    land(tmp_path, generation_id=f"gamma:{made['gammaId']}", export_as="pdf", dest=f"{tmp_path}/deck.pdf")

    exports = [r for r in gamma_connection.requests if r.path == f"/v1.0/gammas/{made['gammaId']}/export"]
    assert [r.json for r in exports] == [{"exportAs": "pdf"}]
    assert (tmp_path / "deck.pdf").read_bytes() == gamma_connection.export_bytes(made["generationId"], "pdf")
    with pytest.raises(GammaExportNotRequestedError, match="export_as"):
        land(tmp_path, generation_id=f" gamma:{made['gammaId']} ", dest=f"{tmp_path}/other.pdf")
