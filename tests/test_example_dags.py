# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The example DAGs: they parse offline without touching Gamma, and each one runs green end to end
(``airflow dags test``, deferral through the real trigger) against the emulator, landing real files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from airflow_provider_gamma.testing import GammaEmulator
from tests.conftest import BIN, REPO

EXAMPLE_DAGS = REPO / "example_dags"
EXAMPLE_DAG_IDS = {
    "weekly_report_deck",
    "template_deck",
    "regional_decks",
    "on_new_deck",
    "agent_deck",
    "deck_analytics",
    "living_deck",
}
WEEKLY_DECK_ASSET = "gamma_weekly_report_deck"


def _dagbag() -> Any:
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(EXAMPLE_DAGS), safe_mode=False)


@pytest.fixture(scope="module")
def dagbag_offline() -> Any:
    """The example DAGs parsed once with no Gamma connection and no network."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AIRFLOW_CONN_GAMMA_DEFAULT", raising=False)
        attempts: list[Any] = []

        def refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append(args[1:] or args)
            raise OSError("network is unreachable in this test")

        for target, name in (
            (socket.socket, "connect"),
            (socket.socket, "connect_ex"),
            (socket, "create_connection"),
            (socket, "getaddrinfo"),
        ):
            patch.setattr(target, name, refuse)
        bag = _dagbag()
    return SimpleNamespace(bag=bag, attempts=attempts)


# --- parsing --------------------------------------------------------------------------------------


def test_example_dags_import_offline_without_a_gamma_connection(dagbag_offline: Any) -> None:
    assert dagbag_offline.bag.import_errors == {}
    assert set(dagbag_offline.bag.dag_ids) == EXAMPLE_DAG_IDS
    assert dagbag_offline.attempts == [], "parsing the example DAGs tried to open network connections"


def test_parsing_sends_nothing_to_gamma(gamma_connection: GammaEmulator) -> None:
    bag = _dagbag()
    assert bag.import_errors == {}
    assert gamma_connection.requests == []
    assert gamma_connection.export_requests == []


@pytest.mark.parametrize("dag_id", sorted(EXAMPLE_DAG_IDS))
def test_example_dag_conventions(dagbag_offline: Any, dag_id: str) -> None:
    dag = dagbag_offline.bag.dags[dag_id]
    assert dag.catchup is False
    assert dag.timezone.name == "Europe/London"  # schedules follow London time, DST included
    assert "gamma" in dag.tags
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_weekly_deck_asset_schedules_on_new_deck(dagbag_offline: Any) -> None:
    land = dagbag_offline.bag.dags["weekly_report_deck"].get_task("land_deck")
    assert [outlet.name for outlet in land.outlets] == [WEEKLY_DECK_ASSET]
    consumer = dagbag_offline.bag.dags["on_new_deck"]
    scheduled_on = [asset.name for asset in consumer.timetable.asset_condition.objects]
    assert scheduled_on == [WEEKLY_DECK_ASSET]


def test_generate_tasks_defer(dagbag_offline: Any) -> None:
    for dag_id, task_id in (
        ("weekly_report_deck", "generate_deck"),
        ("template_deck", "generate_from_template"),
        ("regional_decks", "generate_deck"),
        ("agent_deck", "generate_deck"),
    ):
        task = dagbag_offline.bag.dags[dag_id].get_task(task_id)
        deferrable = task.partial_kwargs["deferrable"] if hasattr(task, "partial_kwargs") else task.deferrable
        assert deferrable is True, f"{dag_id}.{task_id}"


# --- running them ---------------------------------------------------------------------------------
#
# Each example runs through `airflow dags test` (deferrals go through the real trigger, inline) against
# its own emulator. The four runs start together, each on its own copy of the migrated metadata DB, so
# the file takes about as long as the slowest DAG instead of the sum of all four.


@dataclass
class DagTest:
    dag_id: str
    dest: Path
    db: Path
    emulator: GammaEmulator
    process: subprocess.Popen[str]
    output: str | None = None

    def result(self) -> str:
        """Wait for the run; its combined output. Fails the test with that output if the run failed."""
        if self.output is None:
            try:
                self.output, _ = self.process.communicate(timeout=240)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.output = self.process.communicate()[0]
                raise AssertionError(f"airflow dags test {self.dag_id} timed out\n{self.output}") from None
        assert self.process.returncode == 0, f"airflow dags test {self.dag_id} failed\n{self.output}"
        return self.output

    def posts(self) -> list[Any]:
        """The POSTs that start generations (exports of a gamma are POSTs too, but bill no deck)."""
        return [
            request
            for request in self.emulator.requests
            if request.method == "POST"
            and request.path.startswith(("/v1.0/generations", "/v1.0/agent/generations"))
        ]


ON_NEW_DECK_FILE = "picked-up/weekly-report.pptx"
RUNS: dict[str, tuple[str, ...]] = {
    "weekly_report_deck": ("2026-11-23",),
    "template_deck": ("2026-12-01",),
    "regional_decks": ("2026-11-23",),
    "on_new_deck": ("2026-11-23", "-c", "{uris}"),
    "agent_deck": ("2026-11-23",),
    "deck_analytics": ("2026-11-23",),
    "living_deck": ("2026-11-23",),
}
#: Decks already in Gamma when a DAG runs: their input texts.
DECKS_BEFORE: dict[str, tuple[str, ...]] = {
    "deck_analytics": (
        "# Weekly sales report: week of 2026-11-09\n---\n# Revenue by region",
        "# Weekly sales report: week of 2026-11-16\n---\n# Revenue by region",
        "# Quarterly roadmap\n---\n# Themes",
    ),
}


@pytest.fixture(scope="module")
def dag_tests(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DagTest]]:
    runs: dict[str, DagTest] = {}
    try:
        for dag_id, args in RUNS.items():
            root = tmp_path_factory.mktemp(dag_id)
            dest, db = root / "decks", root / "airflow.db"
            shutil.copyfile(airflow_home / "airflow.db", db)
            picked_up = dest / ON_NEW_DECK_FILE
            picked_up.parent.mkdir(parents=True)
            picked_up.write_bytes(b"x" * 1234)
            emulator = GammaEmulator(generation_seconds=0.2).start()
            for text in DECKS_BEFORE.get(dag_id, ()):
                requests.post(
                    f"{emulator.base_url}/v1.0/generations",
                    headers={"X-API-KEY": emulator.api_key},
                    json={"inputText": text, "textMode": "preserve", "numCards": 3},
                    timeout=10,
                ).raise_for_status()
            env = {
                **os.environ,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
                "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
                "AIRFLOW_CONN_GAMMA_DEFAULT": emulator.connection_uri(),
                "GAMMA_DECKS_DEST": dest.as_uri(),
            }
            env.pop("AIRFLOW_VAR_GAMMA_DECKS_DEST", None)
            argv = [a.format(uris=json.dumps({"uris": [picked_up.as_uri()]})) for a in args]
            process = subprocess.Popen(
                [str(BIN / "airflow"), "dags", "test", dag_id, *argv],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            runs[dag_id] = DagTest(dag_id, dest, db, emulator, process)
        yield runs
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.communicate()
            run.emulator.stop()


def test_weekly_report_deck_runs_and_lands_a_pptx(dag_tests: dict[str, DagTest]) -> None:
    from pptx import Presentation

    run = dag_tests["weekly_report_deck"]
    output = run.result()

    deck = run.dest / "2026-11-23" / "weekly-report.pptx"
    assert len(Presentation(str(deck)).slides) >= 1
    # One billed generation, with the figures of the week before the run rendered in.
    (post,) = run.posts()
    assert post.path == "/v1.0/generations"
    assert post.json["exportAs"] == "pptx"
    assert "# Weekly sales report: week of 2026-11-16" in post.json["inputText"]
    assert "£198,547" in post.json["inputText"]
    assert "{{" not in post.json["inputText"]
    # The URL is logged, and the asset event carries what the next DAG needs.
    (generation,) = run.emulator.generations.values()
    assert f"This week's deck in Gamma: {generation.gamma_url}" in output
    assert _latest_asset_event_extra(run.db, WEEKLY_DECK_ASSET) == {
        "uris": [deck.as_uri()],
        "generation_id": generation.generation_id,
        "gamma_url": generation.gamma_url,
    }


def test_template_deck_runs_and_lands_a_pdf(dag_tests: dict[str, DagTest]) -> None:
    from pypdf import PdfReader

    run = dag_tests["template_deck"]
    run.result()

    pdf = run.dest / "2026-12-01" / "monthly-update.pdf"
    assert len(PdfReader(str(pdf)).pages) >= 1
    pptx = run.dest / "2026-12-01" / "monthly-update.pptx"
    assert zipfile.is_zipfile(pptx), "the PPTX is the gamma's second export"
    (post,) = run.posts()
    assert post.path == "/v1.0/generations/from-template"
    assert post.json["gammaId"] == "g_template_monthly"
    assert post.json["exportAs"] == "pdf"
    assert post.json["prompt"].startswith("Monthly update for November 2026.")


def test_agent_deck_briefs_the_agent_and_lands_its_pptx(dag_tests: dict[str, DagTest]) -> None:
    from pptx import Presentation

    run = dag_tests["agent_deck"]
    output = run.result()

    deck = run.dest / "2026-11-23" / "board-update.pptx"
    assert len(Presentation(str(deck)).slides) == 6
    (post,) = run.posts()
    assert post.path == "/v1.0/agent/generations"
    assert post.json["sourceUrls"] == ["https://www.ons.gov.uk/businessindustryandtrade/retailindustry"]
    assert post.json["prompt"].startswith("A short board update on sales in the week of 2026-11-16.")
    assert "Total revenue £198,547" in post.json["prompt"]
    assert "title" not in post.json  # the agent names the deck; its endpoint refuses a title
    (generation,) = run.emulator.generations.values()
    assert deck.read_bytes() == run.emulator.export_bytes(generation.generation_id)
    assert "The agent's summary: Built a 6-card presentation" in output


def test_regional_decks_generate_and_land_one_deck_per_region(dag_tests: dict[str, DagTest]) -> None:
    from pptx import Presentation

    run = dag_tests["regional_decks"]
    run.result()

    regions = ["east", "north", "south", "west"]
    folder = run.dest / "2026-11-23" / "regions"
    assert sorted(path.name for path in folder.iterdir()) == [f"{region}.pptx" for region in regions]
    assert len(run.posts()) == 4
    # Each region's file is the export of the generation about that region.
    by_region = {g.input.split(" region:")[0].lower(): g for g in run.emulator.generations.values()}
    assert sorted(by_region) == regions
    for region, generation in by_region.items():
        landed = folder / f"{region}.pptx"
        assert landed.read_bytes() == run.emulator.export_bytes(generation.generation_id)
        assert len(Presentation(str(landed)).slides) >= 1


def test_deck_analytics_lands_the_searched_decks_rows_and_an_asset_event(
    dag_tests: dict[str, DagTest],
) -> None:
    run = dag_tests["deck_analytics"]
    run.result()

    landed = run.dest / "analytics" / "2026-11-23" / "deck-analytics.jsonl"
    rows = [json.loads(line) for line in landed.read_text().splitlines()]
    # The search found the two weekly decks (not the roadmap), and only those were measured.
    weekly = {g.gamma_id for g in run.emulator.generations.values() if "Weekly sales" in g.input}
    assert len(weekly) == 2
    assert {row["gamma_id"] for row in rows} == weekly
    [search] = [r for r in run.emulator.requests if r.path == "/v1.0/gammas/search"]
    assert search.query["q"] == "Weekly sales report"
    records = {
        kind: sum(row["record_type"] == kind for row in rows) for kind in ("deck", "daily_views", "card")
    }
    assert records == {"deck": 2, "daily_views": 60, "card": 6}
    viewers = [row for row in rows if row["record_type"] == "viewer"]
    assert viewers
    assert all("email" not in row and "displayName" not in row and "emailSha256" in row for row in viewers)
    assert {row["logical_date"] for row in rows} == {"2026-11-23T00:00:00+00:00"}
    extra = _latest_asset_event_extra(run.db, "gamma_deck_analytics")
    assert extra["uris"] == [landed.as_uri()]
    assert sorted(extra["gamma_ids"]) == sorted(weekly)
    assert extra["records"] == {**records, "viewer": len(viewers)}
    assert extra["scopes"] == dict.fromkeys(weekly, "all")


def test_on_new_deck_runs_by_hand_with_uris(dag_tests: dict[str, DagTest]) -> None:
    run = dag_tests["on_new_deck"]
    output = run.result()

    assert f"New weekly deck: {(run.dest / ON_NEW_DECK_FILE).as_uri()} (1234 bytes)" in output
    assert run.emulator.requests == []


def test_on_new_deck_reads_the_triggering_asset_event(dagbag_offline: Any, tmp_path: Path) -> None:
    """What the scheduler passes when the weekly deck's asset event triggers the run."""
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    deck = tmp_path / "weekly-report.pptx"
    deck.write_bytes(b"x" * 100)
    event = SimpleNamespace(
        asset=SimpleNamespace(name=WEEKLY_DECK_ASSET, uri=WEEKLY_DECK_ASSET),
        source_aliases=[],
        extra={"uris": [deck.as_uri()], "generation_id": "gen1", "gamma_url": "https://gamma.app/docs/x"},
        source_dag_id="weekly_report_deck",
    )
    task = dagbag_offline.bag.dags["on_new_deck"].get_task("pick_up_decks")

    decks = task.python_callable(
        triggering_asset_events=TriggeringAssetEventsAccessor.build([event]), params={"uris": []}
    )

    assert decks == [
        {
            "uri": deck.as_uri(),
            "gamma_url": "https://gamma.app/docs/x",
            "generated_by": "weekly_report_deck",
            "size": 100,
        }
    ]


def _latest_asset_event_extra(db_file: Path, asset_name: str) -> dict[str, Any]:
    with sqlite3.connect(db_file) as db:
        row = db.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = ? ORDER BY e.id DESC LIMIT 1",
            (asset_name,),
        ).fetchone()
    assert row is not None, f"no asset event for {asset_name}"
    return dict(json.loads(row[0]))


def test_living_deck_edits_one_standing_deck_with_the_weekly_csv_and_lands_its_pdf(
    dag_tests: dict[str, DagTest],
) -> None:
    import hashlib

    run = dag_tests["living_deck"]
    run.result()

    # The first run makes the standing deck once, then edits it in place with this week's CSV.
    assert len(run.posts()) == 1
    [edit] = run.emulator.edits.values()
    [generation] = run.emulator.generations.values()
    assert edit.gamma_id == generation.gamma_id
    assert edit.status == "completed"
    figures = run.dest / "figures" / "2026-11-23.csv"
    [upload] = run.emulator.uploads.values()
    assert edit.files == [upload.upload_id]
    assert upload.sha256 == hashlib.sha256(figures.read_bytes()).hexdigest()  # byte-exact
    assert figures.read_text().startswith("week_start,region,revenue_gbp,orders")
    pdf = run.dest / "2026-11-23" / "board-deck.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    # Landed after the edit: a fresh export of the gamma, asked for once the edit completed.
    [export] = [r for r in run.emulator.requests if r.method == "POST" and r.path.endswith("/export")]
    assert export.path == f"/v1.0/gammas/{generation.gamma_id}/export"
