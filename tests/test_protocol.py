# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The pure protocol core: every status to its exception, retry decisions, request building (the
rate-limit headers and the rate budget: tests/test_ratelimit.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma.exceptions import (
    GammaAuthenticationError,
    GammaError,
    GammaInsufficientCreditsError,
    GammaNotFoundError,
    GammaPermissionError,
    GammaProtocolError,
    GammaRateLimitError,
    GammaServerError,
    GammaSubmissionUncertainError,
    GammaTransportError,
    GammaValidationError,
)
from airflow_provider_gamma.protocol import ApiRequest, ApiResponse, RetryPolicy

GET = protocol.get_generation_request("abc123")
POST = protocol.create_generation_request({"inputText": "x", "textMode": "generate"})
NO_JITTER = RetryPolicy(jitter=False)


def answer(status: int, body: object = None, **headers: str) -> ApiResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ApiResponse(status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)


@pytest.mark.parametrize(
    ("status", "message", "error_class"),
    [
        (400, "Input validation errors: 1. format must be one of: presentation", GammaValidationError),
        (422, "Failed to generate text. Check your inputs and try again.", GammaValidationError),
        (401, "Invalid API key.", GammaAuthenticationError),
        (402, "Insufficient credits", GammaInsufficientCreditsError),
        (403, "Insufficient credits remaining", GammaInsufficientCreditsError),
        (403, "Forbidden", GammaPermissionError),
        (404, "Generation ID not found. generationId: gen_1", GammaNotFoundError),
        (429, "Too many requests", GammaRateLimitError),
        (500, "An error occurred while generating the gamma.", GammaServerError),
        (502, "Bad gateway", GammaServerError),
        (418, "I'm a teapot", GammaError),
    ],
)
def test_every_status_maps_to_its_exception_with_message_and_request_id(status, message, error_class):
    with pytest.raises(error_class) as caught:
        protocol.parse_response(
            GET, answer(status, {"message": message, "statusCode": status}, x_request_id="rq-7")
        )
    error = caught.value
    assert type(error) is error_class
    assert error.http_status == status
    assert error.request_id == "rq-7"
    assert message in str(error)
    assert "rq-7" in str(error)
    assert "GET /v1.0/generations/abc123" in str(error)


def test_permission_is_not_mistaken_for_credits_and_vice_versa():
    credits = protocol.error_for(
        POST, answer(403, {"message": "Insufficient credits remaining", "statusCode": 403})
    )
    forbidden = protocol.error_for(POST, answer(403, {"message": "Feature not enabled for workspace"}))
    assert isinstance(credits, GammaInsufficientCreditsError)
    assert not isinstance(forbidden, GammaInsufficientCreditsError)
    assert isinstance(forbidden, GammaPermissionError)


def test_fail_fast_errors_are_airflow_fail_exceptions_and_transient_ones_are_not():
    from airflow_provider_gamma._compat import AirflowFailException

    for status in (400, 401, 402, 403, 404, 422):
        assert isinstance(protocol.error_for(GET, answer(status, {"message": "m"})), AirflowFailException)
    for status in (429, 500, 502, 503):
        assert not isinstance(protocol.error_for(GET, answer(status, {"message": "m"})), AirflowFailException)


def test_non_json_error_body_is_quoted_briefly():
    error = protocol.error_for(GET, answer(502, b"<html>" + b"x" * 5000 + b"</html>"))
    assert "<html>" in str(error)
    assert len(str(error)) < 600


def test_message_list_is_joined():
    error = protocol.error_for(POST, answer(400, {"message": ["a is bad", "b is bad"], "statusCode": 400}))
    assert "a is bad; b is bad" in str(error)


def test_success_body_must_be_json():
    with pytest.raises(GammaProtocolError, match="not JSON"):
        protocol.parse_response(GET, answer(200, b"<html>hi</html>"))


def test_generation_reader_rejects_missing_fields_and_unknown_status():
    with pytest.raises(GammaProtocolError, match="generationId"):
        protocol.read_generation(GET, {"status": "pending"})
    with pytest.raises(GammaProtocolError, match="unknown generation status"):
        protocol.read_generation(GET, {"generationId": "g", "status": "exploded"})
    assert (
        protocol.read_generation(GET, {"generationId": "g", "status": "completed"})["status"] == "completed"
    )


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC)
    assert protocol.parse_retry_after("12") == 12.0
    assert protocol.parse_retry_after("Sun, 22 Nov 2026 06:00:30 GMT", now) == 30.0
    assert protocol.parse_retry_after("Sun, 22 Nov 2026 05:00:00 GMT", now) == 0.0
    assert protocol.parse_retry_after("soon") is None
    assert protocol.parse_retry_after(None) is None
    assert protocol.parse_retry_after("-5") == 0.0


def test_429_honours_retry_after_else_documented_30s_backoff():
    with_header = protocol.error_for(GET, answer(429, {"message": "Too many requests"}, retry_after="7"))
    without = protocol.error_for(GET, answer(429, {"message": "Too many requests"}))
    assert NO_JITTER.delay(GET, 1, with_header) == 7.0
    assert NO_JITTER.delay(GET, 1, without) == 30.0
    assert NO_JITTER.delay(GET, 2, without) == 60.0
    assert NO_JITTER.delay(GET, 3, without) == 60.0  # capped at max_backoff


def test_reads_retry_5xx_and_network_failures_with_exponential_backoff_then_give_up():
    server = GammaServerError("boom", http_status=500)
    dropped = GammaTransportError("reset", reached_server=True)
    assert [NO_JITTER.delay(GET, n, server) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, None]
    assert NO_JITTER.delay(GET, 1, dropped) == 1.0


def test_client_errors_are_never_retried():
    for status in (400, 401, 403, 404, 422):
        assert NO_JITTER.delay(GET, 1, protocol.error_for(GET, answer(status, {"message": "m"}))) is None


def test_generation_post_is_retried_only_when_gamma_certainly_did_not_start_it():
    rate_limited = protocol.error_for(POST, answer(429, {"message": "Too many requests"}, retry_after="2"))
    never_connected = GammaTransportError("refused", reached_server=False)
    dropped = GammaTransportError("reset", reached_server=True)
    server = GammaServerError("boom", http_status=500)
    assert NO_JITTER.delay(POST, 1, rate_limited) == 2.0
    assert NO_JITTER.delay(POST, 1, never_connected) == 1.0
    assert NO_JITTER.delay(POST, 1, dropped) is None
    assert NO_JITTER.delay(POST, 1, server) is None


def test_settle_turns_a_lost_generation_answer_into_submission_uncertain():
    outcome = answer(500, {"message": "An error occurred while generating the gamma."}, x_request_id="rq-9")
    with pytest.raises(GammaSubmissionUncertainError) as caught:
        protocol.settle(POST, outcome, 1, NO_JITTER)
    assert "rq-9" in str(caught.value)
    assert "paying twice" in str(caught.value)
    with pytest.raises(GammaSubmissionUncertainError):
        protocol.settle(POST, GammaTransportError("timed out", reached_server=True), 1, NO_JITTER)


def test_settle_after_exhausted_429s_on_a_post_raises_the_429_not_uncertainty():
    outcome = answer(429, {"message": "Too many requests"}, retry_after="1")
    assert isinstance(protocol.settle(POST, outcome, 1, NO_JITTER), protocol.Retry)
    with pytest.raises(GammaRateLimitError):
        protocol.settle(POST, outcome, NO_JITTER.max_attempts, NO_JITTER)


def test_settle_returns_payload_or_retry():
    assert protocol.settle(GET, answer(200, {"generationId": "g", "status": "pending"}), 1, NO_JITTER) == {
        "generationId": "g",
        "status": "pending",
    }
    step = protocol.settle(GET, answer(503, {"message": "down"}), 1, NO_JITTER)
    assert isinstance(step, protocol.Retry)
    assert step.delay == 1.0


def test_jitter_stays_within_a_quarter():
    policy = RetryPolicy()
    server = GammaServerError("boom", http_status=500)
    delays = {policy.delay(GET, 3, server) for _ in range(50)}
    assert all(3.0 <= d <= 5.0 for d in delays)
    assert len(delays) > 1


def test_request_building_quotes_ids_and_pages_at_the_documented_maximum():
    assert protocol.get_generation_request("a/b?c").path == "/v1.0/generations/a%2Fb%3Fc"
    with pytest.raises(ValueError, match="generation_id"):
        protocol.get_generation_request("  ")
    listing = protocol.list_request("themes", "dark", "cur1")
    assert listing.url("https://h") == "https://h/v1.0/themes?limit=50&query=dark&after=cur1"
    assert protocol.archive_gamma_request("g_1").describe() == "POST /v1.0/gammas/g_1/archive"
    assert protocol.delete_gamma_request("g_1").method == "DELETE"
    assert POST.starts_generation
    assert protocol.create_generation_from_template_request({}).starts_generation
    assert not GET.starts_generation


def test_headers_carry_the_key_as_x_api_key_not_authorization():
    headers = protocol.request_headers("sk-gamma-secret", "airflow-provider-gamma/1")
    assert headers["X-API-KEY"] == "sk-gamma-secret"
    assert "Authorization" not in headers
    assert headers["User-Agent"] == "airflow-provider-gamma/1"


def test_transport_error_text_hides_signed_url_query():
    error = protocol.transport_error(
        ApiRequest("GET", "export"),
        OSError("failed https://x.test/e.pdf?expires=1&signature=abc"),
        reached_server=True,
    )
    assert "signature" not in str(error)
    assert "x.test/e.pdf?..." in str(error)
