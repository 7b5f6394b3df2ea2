# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaAnalyticsToObjectStorageOperator against the emulator over HTTP, landing on S3 (moto_server)
and local files: the file's rows, all-or-nothing landing, the 403, paging, asset events."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import Asset, AssetAlias

from airflow_provider_gamma import landing
from airflow_provider_gamma.exceptions import (
    GammaNotFoundError,
    GammaParameterError,
    GammaPermissionError,
    GammaServerError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.landing import GammaExportExistsError
from airflow_provider_gamma.landing._parts import _S3Parts
from airflow_provider_gamma.operators import GammaAnalyticsToObjectStorageOperator
from airflow_provider_gamma.operators._analytics_records import deck_rows, email_sha256
from airflow_provider_gamma.operators.analytics import CONTENT_TYPE, gamma_ids_given
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing import GammaEmulator
from tests.object_stores import Store, s3_store

FAST_RETRIES = RetryPolicy(max_attempts=2, backoff=0.01, jitter=False)
LOGICAL_DATE = pendulum.datetime(2026, 11, 23, 6, tz="UTC")
RUN_ID = "scheduled__2026-11-23T06:00:00+00:00"
ENVELOPE = ["record_type", "gamma_id", "scope", "fetched_at", "logical_date", "run_id"]


def make_gammas(count: int, num_cards: int = 4) -> list[str]:
    """``count`` completed gammas on the emulator the ``gamma_default`` connection points at."""
    hook = GammaHook()
    ids = [hook.create_generation(f"Weekly deck {n}", num_cards=num_cards) for n in range(count)]
    return [hook.wait_for_generation(i, poll_interval=0.05, timeout=30)["gammaId"] for i in ids]


def analytics_op(**kwargs: Any) -> GammaAnalyticsToObjectStorageOperator:
    kwargs.setdefault("task_id", "land_analytics")
    kwargs.setdefault("api_retry_policy", FAST_RETRIES)
    return GammaAnalyticsToObjectStorageOperator(**kwargs)


def run(op: GammaAnalyticsToObjectStorageOperator) -> tuple[dict[str, Any], Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    events = OutletEventAccessors()
    context = {"outlet_events": events, "logical_date": LOGICAL_DATE, "run_id": RUN_ID}
    return dict(op.execute(context)), events  # type: ignore[arg-type]


def rows_of(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode().splitlines()]


def analytics_requests(emu: GammaEmulator, gamma_id: str, tail: str = "") -> int:
    path = f"/v1.0/gammas/{gamma_id}/analytics{tail}"
    return sum(1 for r in emu.requests if r.method == "GET" and r.path == path)


@pytest.fixture
def s3(moto_endpoint: str, s3_bucket: str) -> Store:
    """A fresh bucket on moto_server, reached through ``aws_default``."""
    return s3_store(moto_endpoint, "aws_default")


# --- the file -------------------------------------------------------------------------------------


@pytest.mark.s3
def test_lands_one_jsonl_file_holding_every_record_of_every_gamma_on_s3(
    gamma_connection: GammaEmulator, s3: Store
) -> None:
    first, second = make_gammas(2)
    gamma_connection.set_viewer_count(first, 7)
    gamma_connection.set_viewer_count(second, 3)
    hook = GammaHook()

    landed, _ = run(
        analytics_op(gamma_ids=[first, f"gamma:{second}"], dest=s3.dest("gamma/2026-11-23/analytics.jsonl"))
    )

    assert s3.keys() == ["gamma/2026-11-23/analytics.jsonl"]
    assert s3.staged() == []
    data = s3.read("gamma/2026-11-23/analytics.jsonl")
    assert s3.content_type("gamma/2026-11-23/analytics.jsonl") == CONTENT_TYPE
    assert landed == {
        "uri": s3.uri("gamma/2026-11-23/analytics.jsonl"),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": CONTENT_TYPE,
        "gamma_ids": [first, second],
        "records": {"deck": 2, "daily_views": 60, "card": 8, "viewer": 10},
    }
    rows = rows_of(data)
    # Gamma by gamma: the deck, its 30 days, its cards by position, its viewers.
    kinds = [(row["gamma_id"], row["record_type"]) for row in rows]
    expected_kinds: list[tuple[str, str]] = []
    for gamma_id, viewers in ((first, 7), (second, 3)):
        expected_kinds += [(gamma_id, "deck")] + [(gamma_id, "daily_views")] * 30
        expected_kinds += [(gamma_id, "card")] * 4 + [(gamma_id, "viewer")] * viewers
    assert kinds == expected_kinds
    for row in rows:
        assert list(row)[:6] == ENVELOPE
        assert row["scope"] == "all"
        assert row["logical_date"] == "2026-11-23T06:00:00+00:00"
        assert row["run_id"] == RUN_ID
        assert datetime.fromisoformat(row["fetched_at"]).utcoffset() is not None

    # Gamma's fields pass through under Gamma's names.
    analytics = dict(hook.get_gamma_analytics(first))
    daily = analytics.pop("dailyViews")
    deck = rows[0]
    assert {k: v for k, v in deck.items() if k not in ENVELOPE} == {
        k: v for k, v in analytics.items() if k not in ("gammaId", "scope")
    }
    days = [row for row in rows if row["record_type"] == "daily_views" and row["gamma_id"] == first]
    assert [{k: v for k, v in row.items() if k not in ENVELOPE} for row in days] == [
        {**day, "timezone": "UTC"} for day in daily["days"]
    ]
    cards = [row for row in rows if row["record_type"] == "card" and row["gamma_id"] == first]
    assert [{k: v for k, v in row.items() if k not in ENVELOPE} for row in cards] == list(
        hook.get_card_analytics(first)["cards"]
    )
    viewers = [row for row in rows if row["record_type"] == "viewer" and row["gamma_id"] == second]
    assert [{k: v for k, v in row.items() if k not in ENVELOPE} for row in viewers] == (
        hook.list_viewer_analytics(second)
    )
    assert viewers[0]["email"] == "viewer1@example.com"


def test_follows_every_viewer_page_up_to_gammas_cap(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    crowded, capped = make_gammas(2)
    gamma_connection.set_viewer_count(crowded, 120)
    gamma_connection.set_viewer_count(capped, 650)

    landed, _ = run(analytics_op(gamma_ids=f"{crowded}, {capped}", dest=str(tmp_path / "a.jsonl")))

    rows = rows_of((tmp_path / "a.jsonl").read_bytes())
    for gamma_id, listed, pages in ((crowded, 120, 3), (capped, 500, 10)):
        ids = [r["viewerId"] for r in rows if r["record_type"] == "viewer" and r["gamma_id"] == gamma_id]
        assert len(ids) == len(set(ids)) == listed
        assert analytics_requests(gamma_connection, gamma_id, "/viewers") == pages
    assert landed["records"]["viewer"] == 620


def test_a_key_without_edit_permission_fails_naming_the_gamma_and_lands_nothing(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    (gamma_id,) = make_gammas(1)
    gamma_connection.analytics_access = "none"
    dest = tmp_path / "analytics.jsonl"

    with pytest.raises(GammaPermissionError) as raised:
        run(analytics_op(gamma_ids=[gamma_id], dest=f"file://{dest}"))

    message = str(raised.value)
    assert f"edit permission on gamma {gamma_id}" in message
    assert "HTTP 403" in message
    assert raised.value.request_id
    assert f"x-request-id: {raised.value.request_id}" in message
    assert analytics_requests(gamma_connection, gamma_id) == 1  # refused for good: not retried
    assert list(tmp_path.iterdir()) == []


@pytest.mark.s3
def test_a_failure_part_way_leaves_no_file_and_an_earlier_file_as_it_was(
    gamma_connection: GammaEmulator, s3: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_gammas(2)
    gamma_connection.set_viewer_count(first, 500)  # ~100 KiB of rows: parts of the upload are sent
    monkeypatch.setattr(landing._PartedUpload.__init__, "__defaults__", (32 * 1024, 2))
    started = []
    start = _S3Parts.start
    monkeypatch.setattr(_S3Parts, "start", lambda parts: started.append(1) or start(parts))
    # The second gamma's viewers fail on every attempt, after the first gamma's rows were staged.
    gamma_connection.add_fault(path_prefix=f"/v1.0/gammas/{second}/analytics/viewers", status=503, times=None)
    key = "gamma/analytics.jsonl"

    with pytest.raises(GammaServerError, match="503"):
        run(analytics_op(gamma_ids=[first, second], dest=s3.dest(key)))
    assert started, "no part of the file was sent before the failure"
    assert s3.keys() == []
    assert s3.staged() == []

    s3.put(key, b"yesterday's file\n")
    with pytest.raises(GammaServerError, match="503"):
        run(analytics_op(gamma_ids=[first, second], dest=s3.dest(key)))
    assert s3.keys() == [key]
    assert s3.read(key) == b"yesterday's file\n"
    assert s3.staged() == []


def test_a_local_landing_that_fails_leaves_no_partial_file(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    first, second = make_gammas(2)
    gamma_connection.add_fault(path_prefix=f"/v1.0/gammas/{second}/analytics/cards", status=404, times=None)

    with pytest.raises(GammaNotFoundError, match="404"):
        run(analytics_op(gamma_ids=[first, second], dest=str(tmp_path / "day" / "analytics.jsonl")))

    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


# --- scope, viewers ---------------------------------------------------------------------------------


def test_scope_self_is_recorded_in_every_row_and_logged_as_a_warning(
    gamma_connection: GammaEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (gamma_id,) = make_gammas(1)
    gamma_connection.analytics_access = "edit"

    with caplog.at_level(logging.WARNING):
        _, events = run(
            analytics_op(gamma_ids=gamma_id, dest=str(tmp_path / "a.jsonl"), outlets=[Asset("analytics")])
        )

    rows = rows_of((tmp_path / "a.jsonl").read_bytes())
    assert {row["scope"] for row in rows} == {"self"}
    assert [row["viewerId"] for row in rows if row["record_type"] == "viewer"] == ["user_emulator"]
    assert events[Asset("analytics")].extra["scopes"] == {gamma_id: "self"}
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"scope 'self' for gamma {gamma_id}" in warning
    assert "only the API key owner's own activity" in warning


def test_manage_permission_logs_no_scope_warning(
    gamma_connection: GammaEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (gamma_id,) = make_gammas(1)
    with caplog.at_level(logging.WARNING):
        run(analytics_op(gamma_ids=gamma_id, dest=str(tmp_path / "a.jsonl")))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("keep", {"displayName": "Viewer 2", "email": "viewer2@example.com"}),
        ("hash", {"emailSha256": hashlib.sha256(b"viewer2@example.com").hexdigest()}),
        ("drop", {}),
    ],
)
def test_viewer_identity_keeps_hashes_or_drops_names_and_emails(
    gamma_connection: GammaEmulator, tmp_path: Path, identity: str, expected: dict[str, Any]
) -> None:
    (gamma_id,) = make_gammas(1)
    gamma_connection.set_viewer_count(gamma_id, 8)  # the 7th viewer is anonymous

    run(analytics_op(gamma_ids=gamma_id, dest=str(tmp_path / "a.jsonl"), viewer_identity=identity))

    viewers = [r for r in rows_of((tmp_path / "a.jsonl").read_bytes()) if r["record_type"] == "viewer"]
    personal = {"displayName", "email", "emailSha256"}
    assert {k: v for k, v in viewers[1].items() if k in personal} == expected
    assert {"viewerId", "lastOpened", "cardsViewed"} <= set(viewers[1])
    if identity == "hash":
        assert viewers[6]["emailSha256"] is None
    text = (tmp_path / "a.jsonl").read_text()
    assert ("viewer2@example.com" in text) is (identity == "keep")


def test_without_viewers_no_viewer_is_asked_for(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    (gamma_id,) = make_gammas(1)
    landed, _ = run(analytics_op(gamma_ids=gamma_id, dest=str(tmp_path / "a.jsonl"), include_viewers=False))
    assert landed["records"]["viewer"] == 0
    assert analytics_requests(gamma_connection, gamma_id, "/viewers") == 0
    assert analytics_requests(gamma_connection, gamma_id, "/cards") == 1


# --- asset events and lineage -----------------------------------------------------------------------


def test_outlet_assets_and_aliases_get_the_landed_file(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    (gamma_id,) = make_gammas(1)
    gamma_connection.set_viewer_count(gamma_id, 5)
    asset, alias = Asset("gamma_deck_analytics"), AssetAlias("gamma-analytics")

    landed, events = run(
        analytics_op(gamma_ids=[gamma_id], dest=f"file://{tmp_path}/a.jsonl", outlets=[asset, alias])
    )

    extra = {
        "uris": [f"file://{tmp_path}/a.jsonl"],
        "gamma_ids": [gamma_id],
        "records": {"deck": 1, "daily_views": 30, "card": 4, "viewer": 5},
        "scopes": {gamma_id: "all"},
        "logical_date": "2026-11-23T06:00:00+00:00",
    }
    assert landed["uri"] == extra["uris"][0]
    assert events[asset].extra == extra
    [added] = events[alias].asset_alias_events
    assert added.dest_asset_key.uri == landed["uri"]
    assert added.extra == extra


def test_openlineage_output_is_the_landed_file(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    (gamma_id,) = make_gammas(1)
    op = analytics_op(gamma_ids=gamma_id, dest=f"file://{tmp_path}/a.jsonl")
    run(op)
    lineage = op.get_openlineage_facets_on_complete(None)
    if lineage is None:  # the OpenLineage provider is not installed
        return
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", f"{tmp_path}/a.jsonl")]


# --- if_exists --------------------------------------------------------------------------------------


def test_skip_fetches_nothing_and_fail_refuses(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    dest = tmp_path / "a.jsonl"
    dest.write_bytes(b"{}\n")

    landed, events = run(
        analytics_op(gamma_ids="g_any", dest=str(dest), if_exists="skip", outlets=[Asset("a")])
    )
    assert landed["records"] is None
    assert landed["sha256"] == hashlib.sha256(b"{}\n").hexdigest()
    assert events[Asset("a")].extra["uris"] == [f"file://{dest}"]
    with pytest.raises(GammaExportExistsError, match="if_exists='fail'"):
        run(analytics_op(gamma_ids="g_any", dest=str(dest), if_exists="fail"))
    assert gamma_connection.requests == []
    assert dest.read_bytes() == b"{}\n"


def test_no_gamma_at_run_time_lands_an_empty_file(
    gamma_connection: GammaEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    op = analytics_op(gamma_ids="{{ ti.xcom_pull(task_ids='search') }}", dest=str(tmp_path / "a.jsonl"))
    op.gamma_ids = []  # what a search that found nothing renders to
    landed, _ = run(op)
    assert (tmp_path / "a.jsonl").read_bytes() == b""
    assert landed["records"] == {"deck": 0, "daily_views": 0, "card": 0, "viewer": 0}
    assert "No gamma to fetch analytics for" in caplog.text


# --- parameters ---------------------------------------------------------------------------------------


def test_gamma_ids_in_every_form_a_dag_gives_them() -> None:
    hit = {"id": "g_hit", "title": "Weekly", "url": "https://gamma.app/docs/x"}
    generated = {"generationId": "gen1", "gammaId": "g_gen"}
    assert gamma_ids_given("g1") == ["g1"]
    assert gamma_ids_given(" g1 , gamma:g2,g1 ") == ["g1", "g2"]
    assert gamma_ids_given("['g1', 'gamma:g2']") == ["g1", "g2"]
    assert gamma_ids_given('["g1"]') == ["g1"]
    assert gamma_ids_given([hit, generated, "gamma:g_hit"]) == ["g_hit", "g_gen"]
    assert gamma_ids_given(generated) == ["g_gen"]
    assert gamma_ids_given([]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma_ids": []}, "gamma_ids=[]: give at least one gamma id"),
        ({"gamma_ids": ""}, "gamma_ids='': give at least one gamma id"),
        ({"gamma_ids": ["g1", 5]}, "gamma_ids[1]=5: must be a gamma id"),
        ({"gamma_ids": [{"title": "x"}]}, "gamma_ids[0]={'title': 'x'}: must be a gamma id"),
        ({"gamma_ids": "[g1"}, "looks like a list but is not one"),
        ({"gamma_ids": 7}, "gamma_ids=7: must be a gamma id, a list of them"),
        ({"dest": "s3://bucket/day/"}, "must name the file to land, not a folder"),
        ({"dest": "analytics.jsonl"}, "a local path must be absolute"),
        ({"viewer_identity": "hashed"}, "must be one of keep, hash, drop (did you mean 'hash'?)"),
        ({"include_viewers": "yes"}, "include_viewers='yes': must be true or false"),
        ({"if_exists": "replace"}, "if_exists='replace': must be one of overwrite, skip, fail"),
        ({"gamma_conn_id": ""}, "gamma_conn_id='': must be a connection id"),
        ({"api_retry_policy": 3}, "api_retry_policy=3: must be a RetryPolicy"),
    ],
)
def test_parameters_are_checked_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"gamma_ids": ["g1"], "dest": "s3://bucket/a.jsonl", **kwargs}
    with pytest.raises(GammaParameterError, match="Invalid Gamma parameter") as raised:
        GammaAnalyticsToObjectStorageOperator(task_id="t", **kwargs)
    assert message in str(raised.value)


def test_templates_and_xcoms_pass_until_rendered() -> None:
    from airflow.sdk import DAG, task

    with DAG("analytics_parse", schedule=None):

        @task
        def search() -> list[str]:
            return []

        op = GammaAnalyticsToObjectStorageOperator(
            task_id="t", gamma_ids=search(), dest="s3://bucket/{{ ds }}/analytics.jsonl"
        )
        GammaAnalyticsToObjectStorageOperator(
            task_id="t2", gamma_ids=["g1", "{{ var.value.deck }}"], dest="{{ var.value.dest }}/"
        )
    assert op.template_fields == ("gamma_ids", "dest", "dest_conn_id", "gamma_conn_id")


# --- the layout, without I/O ---------------------------------------------------------------------------


def test_daily_views_are_read_as_a_bare_list_too_and_unknown_shapes_stay_on_the_deck_row() -> None:
    run_ = {"logical_date": None, "run_id": "manual__x"}
    listed = {"gammaId": "g1", "scope": "all", "totalViews": 3, "dailyViews": [{"date": "2026-11-22"}]}
    deck, day = deck_rows("g1", listed, "t", run_)
    assert "dailyViews" not in deck
    assert day == {
        "record_type": "daily_views",
        "gamma_id": "g1",
        "scope": "all",
        "fetched_at": "t",
        "logical_date": None,
        "run_id": "manual__x",
        "date": "2026-11-22",
    }
    (deck,) = deck_rows("g1", {**listed, "dailyViews": "n/a"}, "t", run_)
    assert deck["dailyViews"] == "n/a"


def test_email_hash_ignores_case_and_blanks() -> None:
    assert email_sha256(" Viewer2@Example.com ") == hashlib.sha256(b"viewer2@example.com").hexdigest()
    assert email_sha256(None) is None
    assert email_sha256("") is None
