# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""When to send a request again: the :class:`RetryPolicy`, the never-pay-twice predicate, and the
attempt flow every request of the provider runs through.

The attempt flow (:func:`attempt_flow`) is a generator in the manner of httpx's auth flows: it yields
:class:`Send` ("send this request, with at most this many seconds for the whole answer") and
:class:`Sleep` ("wait this long"), receives each attempt's outcome (an :class:`ApiResponse` or a
:class:`GammaTransportError`) and finally returns the decoded payload or raises a typed error. The
drivers in ``hooks/_transport.py`` (``requests`` for workers, ``aiohttp`` for the triggerer) only carry
out what it yields, so retries, back-off, ``Retry-After``, rate-budget tickets and deadlines are
decided here once, for both.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaParameterError,
    GammaRateLimitError,
    GammaServerError,
    GammaSubmissionUncertainError,
    GammaTransportError,
)
from airflow_provider_gamma.parameters import MAX_POLL_INTERVAL, seconds
from airflow_provider_gamma.protocol._answers import ApiResponse, header, parse_response
from airflow_provider_gamma.protocol._ratelimit import RateBudget, parse_retry_after
from airflow_provider_gamma.protocol._requests import ApiRequest


@dataclass(frozen=True)
class RetryPolicy:
    """How the hook rides out rate limits and transient failures.

    :param max_attempts: attempts per call, the first included.
    :param backoff: first wait after a 5xx or a network failure; doubles per attempt.
    :param max_backoff: ceiling of any single wait.
    :param rate_limit_backoff: first wait after a 429 that has no ``Retry-After``; Gamma's docs say
        30 s, then exponential backoff.
    :param jitter: spread waits by up to +/-25 % so many clients do not retry in lockstep.
    :param count_rate_limits: whether a 429 uses up one of ``max_attempts``. The trigger waits 429s
        out for as long as its deadline allows (``False``); a worker's call gives up after
        ``max_attempts`` whatever failed.
    """

    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    rate_limit_backoff: float = 30.0
    jitter: bool = True
    count_rate_limits: bool = True

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise GammaParameterError(
                f"Invalid Gamma parameter max_attempts={attempts!r}: must be a whole number from 1 to 100"
            )
        for name in ("backoff", "max_backoff", "rate_limit_backoff"):
            seconds(getattr(self, name), name, allow_zero=True, maximum=MAX_POLL_INTERVAL)
        for name in ("jitter", "count_rate_limits"):
            if not isinstance(getattr(self, name), bool):
                raise GammaParameterError(
                    f"Invalid Gamma parameter {name}={getattr(self, name)!r}: must be True or False"
                )

    def delay(self, request: ApiRequest, attempt: int, error: GammaError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up and raise ``error``.

        A request that starts a generation is retried only when Gamma certainly did not start it: a 429
        (rejected before any work) or a connection that never opened. A 5xx, a timeout or a dropped
        connection may hide a generation that is running and billed, so those are never retried.
        """
        if attempt >= self.max_attempts or not self.retryable(request, error):
            return None
        if isinstance(error, GammaRateLimitError):
            if error.retry_after is not None:
                return self.rate_limit_pause(error.retry_after)
            return self._spread(self.rate_limit_backoff * 2 ** (attempt - 1))
        return self._spread(self.backoff * 2 ** (attempt - 1))

    @staticmethod
    def retryable(request: ApiRequest, error: GammaError) -> bool:
        """Whether sending ``request`` again after ``error`` is both useful and safe."""
        return is_transient(error) and not may_have_started_generation(request, error)

    def rate_limit_pause(self, retry_after: float | None) -> float:
        """How long a 429 pauses every poller of the key: Gamma's ``Retry-After`` (0 included), capped
        at ``max_backoff`` so one answer cannot stop them for a day, else ``rate_limit_backoff``."""
        if retry_after is None:
            return min(self.rate_limit_backoff, self.max_backoff)
        return min(retry_after, self.max_backoff)

    def _spread(self, seconds: float) -> float:
        seconds = min(seconds, self.max_backoff)
        return seconds * random.uniform(0.75, 1.25) if self.jitter else seconds


def is_transient(error: GammaError) -> bool:
    """A 429, a 5xx or a network failure: the same request may well succeed later."""
    return isinstance(error, GammaRateLimitError | GammaServerError | GammaTransportError)


def may_have_started_generation(request: ApiRequest, error: GammaError) -> bool:
    """Whether a failed generation request may nonetheless have started (and billed) a generation.

    Only a 429 or a connection that never opened prove Gamma did not act on the request; a 5xx, a
    timeout or a dropped connection may hide a generation that is running.
    """
    if not request.starts_generation:
        return False
    return isinstance(error, GammaServerError) or (
        isinstance(error, GammaTransportError) and error.reached_server
    )


@dataclass(frozen=True)
class Retry:
    """The outcome of one attempt was a transient failure: wait ``delay`` seconds and send again."""

    delay: float
    error: GammaError


@dataclass(frozen=True)
class Delivered:
    """The outcome of an attempt whose transport read the body itself (an export download): its result."""

    value: Any


#: What one attempt ended with: an answer, a failure without one (:class:`GammaTransportError`, or the
#: typed error of a transport that reads answers itself), or a :class:`Delivered` result.
Outcome = ApiResponse | GammaError | Delivered


def settle(request: ApiRequest, outcome: Outcome, attempt: int, policy: RetryPolicy) -> Any:
    """Decide what one attempt's outcome means: the decoded payload (or a delivered result), a
    :class:`Retry`, or a raised error.

    When a request that starts a generation fails after it may have reached Gamma, the error raised is
    :class:`GammaSubmissionUncertainError`: Gamma may be generating (and billing) a deck whose id never
    arrived, so neither this client nor an Airflow task retry may send it again.
    """
    try:
        if isinstance(outcome, Delivered):
            return outcome.value
        if isinstance(outcome, GammaError):
            raise outcome
        return parse_response(request, outcome)
    except GammaError as error:
        delay = policy.delay(request, attempt, error)
        if delay is not None:
            return Retry(delay, error)
        if may_have_started_generation(request, error):
            raise GammaSubmissionUncertainError(
                f"{request.describe()} failed after it may have reached Gamma, so a generation may be "
                f"running and billed without its id reaching us; not sending it again blindly, to avoid "
                f"paying twice. Cause: {error}",
                http_status=error.http_status,
                request_id=error.request_id,
            ) from error
        raise


# --- the attempt flow --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send ``request`` once; the whole answer (connect, status line, headers and body) must arrive
    within ``timeout`` seconds, or the attempt is a :class:`GammaTransportError`."""

    request: ApiRequest
    timeout: float


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before going on: a back-off after ``error`` (attempt ``attempt`` failed), or,
    with no error, a wait for the key's rate budget."""

    seconds: float
    error: GammaError | None = None
    attempt: int = 0


#: What a driver runs: ``step = flow.send(outcome)`` until ``StopIteration.value`` is the payload.
AttemptFlow = Generator[Send | Sleep, Outcome | None, Any]


def attempt_flow(
    request: ApiRequest,
    policy: RetryPolicy,
    *,
    timeout: float,
    budget: RateBudget | None = None,
    clock: Callable[[], float] | None = None,
) -> AttemptFlow:
    """Every attempt of one call, from the first send to the decoded payload or a raised error.

    :param timeout: the connection's seconds per attempt (a shorter ``request.timeout`` wins).
    :param budget: the key's shared :class:`RateBudget`; each attempt takes a ticket and gives it
        back with its answer, or without one (also when the driver abandons the flow mid-send, e.g.
        a cancelled trigger). ``None``: no budget.
    :param clock: monotonic seconds, for the budget (the driver's own clock).
    """
    now = clock or (lambda: 0.0)
    attempt = 0
    while True:
        ticket = -1
        if budget is not None:
            ticket, wait = budget.acquire(now())
            while ticket < 0:
                # Spread the waiters over a second past the slot, so they do not all wake at once.
                yield Sleep(wait + random.random())
                ticket, wait = budget.acquire(now())
        outcome: Outcome | None = None
        try:
            outcome = yield Send(request, request.timeout_within(timeout))
        finally:
            if budget is not None and not isinstance(outcome, ApiResponse):
                budget.release(ticket)
        assert outcome is not None, "a driver must send every Send's outcome back"
        if isinstance(outcome, ApiResponse):
            if budget is not None:
                budget.observe(ticket, outcome.rate_limit)
                if outcome.status == 429:
                    retry_after = parse_retry_after(header(outcome.headers, "retry-after"))
                    budget.pause(policy.rate_limit_pause(retry_after), now())
            counted = policy.count_rate_limits or outcome.status != 429
        else:
            counted = True
        attempt += counted
        step = settle(request, outcome, max(1, attempt), policy)
        if not isinstance(step, Retry):
            return step
        yield Sleep(step.delay, step.error, attempt)
