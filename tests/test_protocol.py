# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The pure protocol core: every status to its exception, retry decisions, header parsing."""

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


def test_rate_limit_headers_are_read_case_insensitively():
    limit = protocol.RateLimit.from_headers(
        {
            "X-RateLimit-Limit-Burst": "10000",
            "x-ratelimit-remaining-burst": "42",
            "x-ratelimit-limit": "40000",
            "x-ratelimit-remaining": "39000",
            "x-ratelimit-limit-daily": "200000",
            "x-ratelimit-remaining-daily": "bogus",
        }
    )
    assert limit.limit_burst == 10000
    assert limit.remaining_burst == 42
    assert limit.remaining_hourly == 39000
    assert limit.remaining_daily is None


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


def test_poll_delay_slows_down_when_burst_budget_runs_low():
    assert protocol.poll_delay(5.0, None) == 5.0
    assert protocol.poll_delay(5.0, protocol.RateLimit(remaining_burst=5000)) == 5.0
    assert protocol.poll_delay(5.0, protocol.RateLimit(remaining_burst=99)) == 15.0
    assert protocol.poll_delay(30.0, protocol.RateLimit(remaining_burst=1)) == 30.0


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


def test_rate_budget_spends_what_gamma_reports_less_a_reserve_and_in_flight_requests():
    budget = protocol.RateBudget(reserve=0.1, probe_interval=1.0)
    tickets = [budget.acquire(0.0) for _ in range(3)]  # nothing known yet: requests go
    assert [wait for _, wait in tickets] == [0.0, 0.0, 0.0]
    # the answer to the first request: 15 of 100 left; reserve 10; 2 more already in flight -> 3 may go
    budget.observe(tickets[0][0], protocol.RateLimit(remaining_burst=15, limit_burst=100))
    assert [budget.acquire(0.1)[1] for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.spent
    assert budget.acquire(0.1) == (6, 0.0)  # spent: one probe goes, to learn whether the window refilled
    assert budget.acquire(0.5) == (-1, pytest.approx(0.6))  # the others wait for the next probe slot


def test_rate_budget_probes_once_per_interval_while_spent_and_recovers_on_refill():
    budget = protocol.RateBudget(reserve=0.0, probe_interval=2.0)
    first, _ = budget.acquire(0.0)
    budget.observe(first, protocol.RateLimit(remaining_burst=0, limit_burst=50))
    probe, wait = budget.acquire(1.0)
    assert (probe, wait) == (1, 0.0)
    assert budget.acquire(1.5) == (-1, 1.5)
    budget.observe(probe, protocol.RateLimit(remaining_burst=50, limit_burst=50))
    assert budget.acquire(1.6)[1] == 0.0
    assert not budget.spent


def test_rate_budget_ignores_stale_answers_and_takes_the_tightest_window():
    budget = protocol.RateBudget(reserve=0.0)
    old, _ = budget.acquire(0.0)
    new, _ = budget.acquire(0.0)
    budget.observe(new, protocol.RateLimit(remaining_burst=500, remaining_hourly=3, limit_hourly=40000))
    budget.observe(old, protocol.RateLimit(remaining_burst=9999))  # older answer arriving late
    assert [budget.acquire(0.0)[1] for _ in range(2)] == [0.0, 0.0]  # hourly: 3 left - 1 floor = 2
    assert budget.spent


def test_rate_budget_pause_holds_everyone():
    budget = protocol.RateBudget()
    budget.pause(5.0, now=10.0)
    assert budget.acquire(12.0) == (-1, 3.0)
    assert budget.acquire(15.0)[1] == 0.0


def _share_one_key(processes: int, seconds: float = 60.0) -> tuple[int, int, list[float]]:
    """Greedy pollers in ``processes`` processes, each with its own RateBudget, on one key whose
    burst window allows 100 requests per 10 s; every answer takes 0.2 s. Returns (requests Gamma
    counted, requests refused with 429, each budget's inferred ``others_share``)."""
    limit, window, latency, step = 100, 10.0, 0.2, 0.01
    budgets = [protocol.RateBudget(reserve=0.0, probe_interval=1.0) for _ in range(processes)]
    remaining, counted, refused = limit, 0, 0
    answers: list[tuple[float, int, int, int]] = []  # (due, process, ticket, remaining then)
    for tick in range(int(seconds / step)):
        now = tick * step
        if tick % int(window / step) == 0:
            remaining = limit
        for due, process, ticket, left in [a for a in answers if a[0] <= now]:
            answers.remove((due, process, ticket, left))
            budgets[process].observe(ticket, protocol.RateLimit(remaining_burst=left, limit_burst=limit))
        for process, budget in enumerate(budgets):  # each process wants 100 requests a second
            ticket, wait = budget.acquire(now)
            if not wait:
                if remaining == 0:
                    refused += 1
                else:
                    remaining -= 1
                    counted += 1
                answers.append((now + latency, process, ticket, remaining))
    return counted, refused, [budget.others_share for budget in budgets]


def test_budgets_of_several_processes_infer_each_others_spending_and_stay_inside_the_window():
    alone_counted, alone_refused, [alone_share] = _share_one_key(1)
    assert alone_refused <= 60  # a spent budget's probes (one a second) are refused until the refill
    assert alone_share == 0.0
    for processes in (2, 3):
        counted, refused, shares = _share_one_key(processes)
        # Only the probes are refused, together no more than one process's (without the inference:
        # 225 with 2 processes, 401 with 3; probing at one a second each: 104 and 159).
        assert refused <= 60, (processes, refused)
        assert counted >= 0.9 * alone_counted  # the window is still used, not starved
        for share in shares:
            assert share == pytest.approx((processes - 1) / processes, abs=0.15)
