# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The living-deck protocol (uploads, agent edits, analytics, template search), with no I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma._compat import AirflowFailException
from airflow_provider_gamma.exceptions import (
    GammaEditInProgressError,
    GammaError,
    GammaInsufficientCreditsError,
    GammaParameterError,
    GammaPermissionError,
    GammaProtocolError,
    GammaSubmissionUncertainError,
    GammaValidationError,
    error_from_event,
)
from airflow_provider_gamma.protocol import ApiRequest, ApiResponse, Pagination, RetryPolicy

MiB = 1024 * 1024


def answer(status: int, body: Any, request_id: str = "rq-1") -> ApiResponse:
    return ApiResponse(status, {"x-request-id": request_id}, json.dumps(body).encode())


def error(request: ApiRequest, status: int, message: str) -> GammaError:
    return protocol.error_for(request, answer(status, {"message": message, "statusCode": status}))


# --- uploads -------------------------------------------------------------------------------------------


def test_an_upload_describes_its_raw_body_without_holding_it() -> None:
    request = protocol.upload_request(3 * MiB, filename="figures.csv")
    assert (request.method, request.path, dict(request.params)) == (
        "POST",
        "/v1.0/uploads",
        {"filename": "figures.csv"},
    )
    assert request.json is None
    assert request.streams_body
    assert request.body_headers() == {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(3 * MiB),
    }
    assert not request.starts_generation  # an upload is not paid: retried like a read


def test_an_upload_gets_time_for_its_bytes_but_never_beyond_the_tasks_deadline() -> None:
    request = protocol.upload_request(200 * MiB)
    assert request.timeout_within(30.0) == protocol.UPLOAD_DEADLINE == 3600.0
    assert request.timeout_within(7200.0) == 7200.0
    capped = ApiRequest("POST", "/v1.0/uploads", content_length=1, min_timeout=500.0, timeout=42.0)
    assert capped.timeout_within(30.0) == 42.0
    assert ApiRequest("GET", "/v1.0/themes").timeout_within(30.0) == 30.0
    assert ApiRequest("GET", "/v1.0/themes").body_headers() == {}


def test_an_upload_over_250_mib_or_empty_is_refused_before_sending() -> None:
    assert protocol.upload_request(protocol.MAX_UPLOAD_BYTES).content_length == 250 * MiB
    with pytest.raises(GammaParameterError) as too_big:
        protocol.upload_request(protocol.MAX_UPLOAD_BYTES + 1, filename="q3.pptx")
    assert "'q3.pptx'" in str(too_big.value)
    assert "262,144,001" in str(too_big.value)
    assert "250 MiB" in str(too_big.value)
    for size in (0, -5, True, 1.5):
        with pytest.raises(GammaParameterError, match="cannot upload"):
            protocol.upload_request(size)  # type: ignore[arg-type]


def test_an_upload_may_be_retried_after_a_502_where_an_edit_may_not() -> None:
    policy = RetryPolicy(jitter=False)
    upload = protocol.upload_request(10)
    assert isinstance(
        protocol.settle(upload, answer(502, {"message": "Bad gateway"}), 1, policy), protocol.Retry
    )
    edit = protocol.create_edit_request("g_1", {"prompt": "x"})
    with pytest.raises(GammaSubmissionUncertainError):
        protocol.settle(edit, answer(502, {"message": "Bad gateway"}), 1, policy)


@pytest.mark.parametrize(
    ("payload", "upload_id"),
    [
        ({"uploadId": "upl_1", "filename": "a.csv", "expiresAt": "later"}, "upl_1"),
        ({"id": "upl_2"}, "upl_2"),
        ({"upload": {"uploadId": "upl_3", "filename": "b.pdf"}}, "upl_3"),
    ],
)
def test_the_upload_id_is_read_from_where_gamma_puts_it(payload: dict[str, Any], upload_id: str) -> None:
    read = protocol.read_upload(protocol.upload_request(1), dict(payload))
    assert read["uploadId"] == upload_id
    assert set(payload) <= set(read)  # other keys pass through
    if "upload" in payload:
        assert read["filename"] == "b.pdf"


@pytest.mark.parametrize("payload", [{}, {"uploadId": ""}, {"uploadId": 7}, [], "upl_1"])
def test_an_upload_answer_without_an_id_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(GammaProtocolError, match="uploadId"):
        protocol.read_upload(protocol.upload_request(1), payload)


def test_a_refused_upload_body_is_a_validation_error() -> None:
    refused = error(protocol.upload_request(1), 413, "Payload too large")
    assert isinstance(refused, GammaValidationError)
    assert "250 MiB" in str(refused)


# --- edits ---------------------------------------------------------------------------------------------


def test_an_edit_is_a_paid_post_to_the_gamma() -> None:
    request = protocol.create_edit_request(" g/1 ", {"prompt": "New figures"}, timeout=12.0)
    assert (request.method, request.path) == ("POST", "/v1.0/agent/gammas/g%2F1/edits")
    assert request.json == {"prompt": "New figures"}
    assert request.starts_generation
    assert request.timeout == 12.0
    assert protocol.get_edit_request("V1StGXR8Z5jdHi6B").path == "/v1.0/agent/edits/V1StGXR8Z5jdHi6B"
    with pytest.raises(ValueError, match="gamma_id"):
        protocol.create_edit_request("", {"prompt": "x"})


def test_the_edits_id_is_read_else_the_submission_is_uncertain() -> None:
    request = protocol.create_edit_request("g_1", {"prompt": "x"})
    assert protocol.read_edit_created(request, {"editId": "e1", "warnings": "w"}) == {
        "editId": "e1",
        "warnings": "w",
    }
    assert protocol.read_edit_created(request, {"id": "e2"})["editId"] == "e2"
    for payload in ({}, {"editId": " "}, None, ["e1"]):
        with pytest.raises(GammaSubmissionUncertainError, match="probably running and billed"):
            protocol.read_edit_created(request, payload)
    with pytest.raises(GammaSubmissionUncertainError):  # a 2xx that is not JSON
        protocol.parse_response(request, ApiResponse(202, {}, b"<html>"))


def test_a_pending_edit_names_its_gamma_at_the_top_level() -> None:
    edit = protocol.read_edit(
        protocol.get_edit_request("e1"),
        {"editId": "e1", "status": "pending", "gammaId": "g_1", "progress": "half"},
    )
    assert edit == {"editId": "e1", "status": "pending", "gammaId": "g_1"}  # a non-object progress dropped


@pytest.mark.parametrize(
    "where",
    [
        {"gammaId": "g_1", "gammaUrl": "https://gamma.app/docs/x"},
        {"gammaId": "g_1", "url": "https://gamma.app/docs/x"},
        {"gamma": {"gammaId": "g_1", "gammaUrl": "https://gamma.app/docs/x"}},
        {"gamma": {"id": "g_1", "url": "https://gamma.app/docs/x"}},
    ],
)
def test_a_completed_edits_gamma_and_url_are_read_wherever_they_are(where: dict[str, Any]) -> None:
    payload = {
        "status": "completed",
        "result": {"summary": "Updated 3 cards"},
        "credits": {"deducted": 12, "remaining": 88},
    }
    edit = protocol.read_edit(protocol.get_edit_request("e 1"), {**payload, **where})
    assert (edit["gammaId"], edit["gammaUrl"], edit["summary"]) == (
        "g_1",
        "https://gamma.app/docs/x",
        "Updated 3 cards",
    )
    assert edit["editId"] == "e 1"  # from the path when the answer lacks it
    assert edit["credits"] == {"deducted": 12, "remaining": 88}
    assert "error" not in edit


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        ({"message": "The agent could not edit", "statusCode": 500}, "The agent could not edit"),
        ("Timed out", "Timed out"),
        (None, "no reason given"),
        ({"message": ["a", "b"]}, "a; b"),
    ],
)
def test_a_failed_edits_error_reads_whatever_its_shape(sent: Any, reason: str) -> None:
    edit = protocol.read_edit(
        protocol.get_edit_request("e1"), {"editId": "e1", "status": "failed", "error": sent}
    )
    assert protocol.edit_failure_reason(edit) == reason


def test_an_unknown_edit_status_is_a_protocol_error() -> None:
    with pytest.raises(GammaProtocolError, match="unknown edit status"):
        protocol.read_edit(protocol.get_edit_request("e1"), {"editId": "e1", "status": "queued"})
    with pytest.raises(GammaProtocolError):
        protocol.read_edit(protocol.get_edit_request("e1"), {"editId": "e1"})


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (409, "An edit is already in progress for this gamma."),
        (409, "Conflict"),
        (400, "Another edit is still running on this page"),
        (422, "Only one edit can run on a Gamma at a time"),
    ],
)
def test_the_one_edit_at_a_time_refusal_is_typed_and_not_a_task_failure(status: int, message: str) -> None:
    refused = error(protocol.create_edit_request("g_1", {"prompt": "x"}), status, message)
    assert isinstance(refused, GammaEditInProgressError)
    assert not isinstance(refused, AirflowFailException)
    assert "g_1" in str(refused)
    assert message in str(refused)
    assert "rq-1" in str(refused)
    assert not protocol.is_transient(refused)  # the attempt flow does not resend it


@pytest.mark.parametrize(
    ("request_", "status", "message", "kind"),
    [
        (
            protocol.create_edit_request("g_1", {"prompt": "x"}),
            400,
            "Upload upl_1 is already attached to an edit",
            GammaValidationError,
        ),
        (
            protocol.create_edit_request("g_1", {"prompt": "x"}),
            409,
            "Upload upl_1 is in progress",
            GammaError,
        ),
        (
            protocol.create_edit_request("g_1", {"prompt": "x"}),
            400,
            "prompt should not be empty",
            GammaValidationError,
        ),
        (protocol.export_gamma_request("g_1", "pdf"), 409, "An edit is in progress", GammaError),
        (protocol.create_agent_generation_request({"prompt": "x"}), 409, "in progress", GammaError),
    ],
)
def test_other_refusals_are_not_taken_for_a_running_edit(
    request_: ApiRequest, status: int, message: str, kind: type[GammaError]
) -> None:
    refused = error(request_, status, message)
    assert type(refused) is kind
    assert not isinstance(refused, GammaEditInProgressError)


def test_an_edit_refused_for_permission_or_credits_says_which() -> None:
    request = protocol.create_edit_request("g_1", {"prompt": "x"})
    denied = error(request, 403, "Forbidden")
    assert type(denied) is GammaPermissionError
    assert "edit permission on gamma g_1" in str(denied)
    assert isinstance(error(request, 403, "Insufficient credits"), GammaInsufficientCreditsError)


def test_a_trigger_event_rebuilds_the_edit_in_progress_refusal() -> None:
    rebuilt = error_from_event({"error_type": "GammaEditInProgressError"}, "busy")
    assert isinstance(rebuilt, GammaEditInProgressError)


# --- analytics -----------------------------------------------------------------------------------------


def test_the_analytics_calls() -> None:
    assert protocol.gamma_analytics_request("g_1").path == "/v1.0/gammas/g_1/analytics"
    assert protocol.card_analytics_request("g_1").path == "/v1.0/gammas/g_1/analytics/cards"
    first = protocol.viewer_analytics_request("g_1")
    assert (first.path, dict(first.params)) == ("/v1.0/gammas/g_1/analytics/viewers", {"limit": "50"})
    later = protocol.viewer_analytics_request("g_1", after="eyJ9", limit=10, sort_direction="asc")
    assert dict(later.params) == {"limit": "10", "after": "eyJ9", "sortDirection": "asc"}
    for bad in ({"limit": 0}, {"limit": 51}, {"limit": True}, {"sort_direction": "up"}):
        with pytest.raises(GammaParameterError):
            protocol.viewer_analytics_request("g_1", **bad)


@pytest.mark.parametrize(
    "request_",
    [
        protocol.gamma_analytics_request("g_1"),
        protocol.card_analytics_request("g_1"),
        protocol.viewer_analytics_request("g_1"),
    ],
)
def test_analytics_without_permission_name_what_is_missing(request_: ApiRequest) -> None:
    denied = error(request_, 403, "Access denied - edit permission required")
    assert type(denied) is GammaPermissionError
    assert isinstance(denied, AirflowFailException)
    assert "edit permission on gamma g_1" in str(denied)
    assert "Access denied" in str(denied)
    assert "rq-1" in str(denied)


def test_a_gammas_analytics_are_checked_and_passed_through() -> None:
    request = protocol.gamma_analytics_request("g_1")
    sent = {
        "scope": "all",
        "totalViews": 342,
        "uniqueViewers": 128,
        "lastOpenedTime": "2026-12-01T00:00:00Z",
        "x": 1,
    }
    read = protocol.read_gamma_analytics(request, dict(sent))
    assert read["gammaId"] == "g_1"
    assert read["lastOpened"] == "2026-12-01T00:00:00Z"
    assert read["x"] == 1  # type: ignore[typeddict-item]
    for broken in (
        {"totalViews": 1},
        {"totalViews": "many", "uniqueViewers": 1},
        {"totalViews": True, "uniqueViewers": 1},
    ):
        with pytest.raises(GammaProtocolError):
            protocol.read_gamma_analytics(request, broken)


def test_daily_views_are_read_from_either_shape() -> None:
    days = [{"date": "2026-12-01", "uniqueViewers": 3}, {"date": "2026-12-02", "uniqueViewers": 0}]
    assert protocol.daily_views({"dailyViews": {"dayCount": 2, "timezone": "UTC", "days": days}}) == days
    assert protocol.daily_views({"dailyViews": [*days, "junk"]}) == days
    assert protocol.daily_views({}) == []
    assert protocol.daily_views({"dailyViews": {"days": None}}) == []


def test_card_analytics_keep_every_card_row() -> None:
    request = protocol.card_analytics_request("g_1")
    cards = [
        {"cardId": "c1", "cardName": "Intro", "cardPosition": 1, "viewTimeSeconds": 12, "viewersPercent": 80}
    ]
    assert protocol.read_card_analytics(request, {"gammaId": "g_1", "cards": [*cards, 5]})["cards"] == cards
    assert protocol.read_card_analytics(request, {"data": cards})["cards"] == cards
    with pytest.raises(GammaProtocolError, match="no list of cards"):
        protocol.read_card_analytics(request, {"cards": "none"})


def test_viewer_pages_are_read_and_followed_to_the_end() -> None:
    pages = [
        {
            "scope": "all",
            "gammaId": "g_1",
            "data": [{"viewerId": "u1"}, {"userId": "u2"}],
            "hasMore": True,
            "nextCursor": "c1",
        },
        {"viewers": [{"viewerId": "u3"}], "nextCursor": ""},
    ]
    pagination, cursor, seen = Pagination("viewers"), None, []
    for payload in pages:
        page = protocol.read_viewer_page(protocol.viewer_analytics_request("g_1", after=cursor), payload)
        seen += [row["viewerId"] for row in page["data"]]
        cursor = pagination.follow(protocol.next_page_cursor(page))
    assert seen == ["u1", "u2", "u3"]
    assert cursor is None
    last = protocol.read_viewer_page(
        protocol.viewer_analytics_request("g_1"), {"data": [], "nextCursor": None}
    )
    assert (last["hasMore"], last["nextCursor"], last["gammaId"]) == (False, None, "g_1")
    with pytest.raises(GammaProtocolError):
        protocol.read_viewer_page(protocol.viewer_analytics_request("g_1"), {"hasMore": False})


def test_a_viewer_cursor_that_repeats_stops_the_listing() -> None:
    pagination = Pagination("viewers", max_pages=protocol.MAX_VIEWERS // protocol.MAX_VIEWER_PAGE_SIZE + 1)
    pagination.follow("c1")
    with pytest.raises(GammaProtocolError, match="repeats"):
        pagination.follow("c1")


# --- templates -----------------------------------------------------------------------------------------


def test_the_template_search() -> None:
    request = protocol.search_templates_request("  board  ", limit=5)
    assert (request.path, dict(request.params)) == ("/v1.0/templates/search", {"q": "board", "limit": "5"})
    assert dict(protocol.search_templates_request().params) == {"limit": "25"}
    for limit in (0, 26, True):
        with pytest.raises(GammaParameterError):
            protocol.search_templates_request(limit=limit)
    found = protocol.read_template_search(
        request,
        {
            "workspaceTemplates": [{"id": "g_t", "title": "Board"}, {"title": "no id"}],
            "workspaceDegraded": True,
        },
    )
    assert found == {
        "workspaceTemplates": [{"id": "g_t", "title": "Board"}],
        "exploreTemplates": [],
        "workspaceDegraded": True,
    }
    with pytest.raises(GammaProtocolError):
        protocol.read_template_search(request, {"templates": []})


def test_every_living_name_is_public() -> None:
    for name in [
        "upload_request",
        "read_upload",
        "create_edit_request",
        "read_edit_created",
        "get_edit_request",
        "read_edit",
        "edit_failure_reason",
        "gamma_analytics_request",
        "card_analytics_request",
        "viewer_analytics_request",
        "read_gamma_analytics",
        "read_card_analytics",
        "read_viewer_page",
        "daily_views",
        "search_templates_request",
        "read_template_search",
        "MAX_UPLOAD_BYTES",
        "MAX_VIEWERS",
        "Upload",
        "EditCreated",
        "Edit",
        "GammaAnalytics",
        "CardAnalytics",
        "ViewerPage",
        "TemplateSearch",
    ]:
        assert name in protocol.__all__
        assert hasattr(protocol, name)
