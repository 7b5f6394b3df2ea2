# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma's answers read as gamma-api.md §18b documents them (older spellings tolerated), the search
request Gamma takes, and the typed errors for a workspace without search and an archived gamma. No
I/O: the protocol core only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma.exceptions import (
    GammaArchivedError,
    GammaError,
    GammaInsufficientCreditsError,
    GammaParameterError,
    GammaPermissionError,
    GammaProtocolError,
    GammaSearchNotEnabledError,
    GammaValidationError,
)
from airflow_provider_gamma.protocol import ApiResponse

AGENT_POLL = protocol.get_generation_request("gen_1")
SEARCH = protocol.search_gammas_request("deck")
EXPORT = protocol.export_gamma_request("g_1", "pdf")


def refusal(request: protocol.ApiRequest, status: int, message: str) -> GammaError:
    body = json.dumps({"message": message, "statusCode": status}).encode()
    with pytest.raises(GammaError) as caught:
        protocol.parse_response(request, ApiResponse(status, {"x-request-id": "rq-1"}, body))
    return caught.value


# --- the agent's answer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gamma",
    [
        {"gammaId": "g_1", "gammaUrl": "https://gamma.app/docs/x-1"},  # as documented (§18b)
        {"id": "g_1", "url": "https://gamma.app/docs/x-1"},  # older pages' spelling
        {"gammaId": "g_1", "id": "g_old", "gammaUrl": "https://gamma.app/docs/x-1", "url": "u"},
    ],
)
def test_the_agent_deck_is_read_from_gamma_gammaid_and_gammaurl(gamma: dict[str, str]) -> None:
    answer = {
        "generationId": "gen_1",
        "status": "completed",
        "gamma": gamma,
        "result": {"summary": "Made 6."},
    }
    generation = protocol.read_generation(AGENT_POLL, answer)
    assert (generation["gammaId"], generation["gammaUrl"]) == ("g_1", "https://gamma.app/docs/x-1")
    assert generation["summary"] == "Made 6."


def test_a_pending_agent_answer_names_its_deck_and_stays_pending() -> None:
    answer = {"generationId": "gen_1", "status": "pending", "gamma": {"gammaId": "g_1", "gammaUrl": "u"}}
    generation = protocol.read_generation(AGENT_POLL, answer)
    assert (generation["status"], generation["gammaId"]) == ("pending", "g_1")
    assert "error" not in generation


def test_top_level_fields_win_and_blank_ones_are_filled_from_the_gamma_object() -> None:
    answer = {"generationId": "gen_1", "status": "completed", "gammaId": "g_top", "gammaUrl": " "}
    answer["gamma"] = {"gammaId": "g_nested", "gammaUrl": "https://gamma.app/docs/n"}
    generation = protocol.read_generation(AGENT_POLL, answer)
    assert (generation["gammaId"], generation["gammaUrl"]) == ("g_top", "https://gamma.app/docs/n")


def test_an_agent_answer_without_a_usable_gamma_object_has_no_gamma_id() -> None:
    for gamma in (None, "g_1", {"gammaId": ""}, {"gammaId": 7}):
        answer = {"generationId": "gen_1", "status": "pending", "gamma": gamma}
        assert "gammaId" not in protocol.read_generation(AGENT_POLL, answer)


# --- search -----------------------------------------------------------------------------------------


def test_search_is_one_request_narrowed_by_creator_and_time_without_a_cursor() -> None:
    request = protocol.search_gammas_request(
        "gx8e0ae80bac",
        created_by="me",
        updated_after=datetime(2026, 12, 1, 9, 30, 15, 123987, tzinfo=UTC),
        updated_before=datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=1))),
        include_archived=True,
        limit=10,
    )
    assert (request.method, request.path) == ("GET", "/v1.0/gammas/search")
    assert dict(request.params) == {
        "q": "gx8e0ae80bac",
        "limit": "10",
        "createdBy": "me",
        "updatedAfter": "2026-12-01T09:30:15.123Z",  # to the millisecond, rounded down
        "updatedBefore": "2026-12-01T10:00:00.000Z",
        "includeArchived": "true",
    }


def test_a_search_may_go_without_a_query_when_a_filter_narrows_it() -> None:
    naive = protocol.search_gammas_request(updated_after=datetime(2026, 12, 1, 9, 0))
    assert dict(naive.params) == {"limit": "25", "updatedAfter": "2026-12-01T09:00:00.000Z"}  # naive = UTC
    assert dict(protocol.search_gammas_request(created_by="me").params) == {"limit": "25", "createdBy": "me"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "x", "limit": 26}, "limit must be 1 to 25"),
        ({"query": "x", "limit": 0}, "limit must be 1 to 25"),
        ({"query": "x", "limit": True}, "limit must be 1 to 25"),
        ({"query": "  "}, "needs a query or a filter"),
        ({"include_archived": True}, "needs a query or a filter"),
    ],
)
def test_a_search_gamma_would_refuse_is_not_sent(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GammaParameterError, match=message):
        protocol.search_gammas_request(**kwargs)


def test_search_hits_are_read_and_malformed_ones_dropped() -> None:
    hit = {
        "id": "g_1",
        "title": "Weekly report",
        "url": "https://gamma.app/docs/w-1",
        "highlight": "<em>Weekly</em> report",
        "createdBy": {"id": "u_1"},
        "updatedTime": "2026-12-01T09:30:15.123Z",
        "archived": False,
    }
    answer = {"hits": [hit, {"id": "g_2"}, {"title": "no id"}, "g_3"], "nextCursor": "ignored"}
    assert protocol.read_search(SEARCH, answer) == [hit]
    with pytest.raises(GammaProtocolError, match="'hits' is not a list"):
        protocol.read_search(SEARCH, {"hits": {"g_1": hit}})
    with pytest.raises(GammaProtocolError, match="expected an object with hits"):
        protocol.read_search(SEARCH, {"data": []})


def test_a_403_from_search_says_search_is_not_enabled_for_the_workspace() -> None:
    error = refusal(SEARCH, 403, "Forbidden")
    assert type(error) is GammaSearchNotEnabledError
    assert isinstance(error, GammaPermissionError)  # callers catching the broader class still do
    assert "not enabled for this workspace" in str(error)
    assert "rq-1" in str(error)
    assert type(refusal(protocol.get_gamma_request("g_1"), 403, "Forbidden")) is GammaPermissionError
    credits = refusal(SEARCH, 403, "Insufficient credits remaining")
    assert type(credits) is GammaInsufficientCreditsError


# --- exports ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 409, 422])
def test_exporting_an_archived_gamma_fails_with_its_own_error(status: int) -> None:
    error = refusal(EXPORT, status, "Archived gammas cannot be exported")
    assert type(error) is GammaArchivedError
    assert isinstance(error, GammaValidationError)  # no retry can help
    assert type(refusal(EXPORT, 400, "exportAs must be one of: pdf, pptx, png")) is GammaValidationError
    archived_elsewhere = refusal(protocol.get_gamma_request("g_1"), 400, "archived")
    assert type(archived_elsewhere) is not GammaArchivedError


@pytest.mark.parametrize(
    ("answer", "reason", "text"),
    [
        ({"reason": "render_timeout", "error": {"message": "Export failed"}}, "render_timeout", "Export failed (render_timeout)"),
        ({"error": {"message": "Export failed", "reason": "deck_too_large"}}, "deck_too_large", "Export failed (deck_too_large)"),
        ({"error": {"reason": "no_content"}}, "no_content", "no reason given (no_content)"),
        ({"reason": " ", "error": {"message": "Export failed: export_failed", "reason": "export_failed"}}, "export_failed", "Export failed: export_failed"),
        ({"error": "Rendering timed out"}, None, "Rendering timed out"),
    ],
)  # fmt: skip
def test_a_failed_exports_reason_is_read_from_either_place(
    answer: dict[str, Any], reason: str | None, text: str
) -> None:
    export = protocol.read_export(
        protocol.get_export_request("e1"), {"exportId": "e1", "status": "failed", **answer}
    )
    assert export.get("reason") == reason
    assert protocol.export_failure_reason(export) == text


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("ClientHttpProxyError: 407, url='http://user:s3cr3t@127.0.0.1:3128'", "s3cr3t"),
        ("Max retries exceeded with url: /exports/deck.pdf?X-Amz-Signature=abc123 (Caused by x)", "abc123"),
        ("GET https://cdn.example/deck.pdf?sig=abc123 failed", "abc123"),
    ],
    ids=["proxy-credentials", "bare-path-query", "url-query"],
)
def test_error_text_never_carries_url_credentials_or_signatures(text: str, leaked: str) -> None:
    """Before: aiohttp quoted a proxy URL with its password, and requests a signed URL as a bare path."""
    request = protocol.ApiRequest("GET", "export")
    error = protocol.transport_error(request, OSError(text), reached_server=True)
    assert leaked not in str(error)
    assert leaked not in protocol.redact(text)
