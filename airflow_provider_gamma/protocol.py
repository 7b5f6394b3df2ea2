# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The Gamma HTTP protocol, with no I/O: requests in, results or typed errors out, and when to wait.

Both transports (``requests`` for operators, ``aiohttp`` for the trigger) are thin shells over this
module, so every rule here (which call may be retried, how long to back off, how an error body maps to
an exception, how fast to poll) is written once.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict, cast
from urllib.parse import quote, urlencode

from airflow_provider_gamma.exceptions import (
    GammaAuthenticationError,
    GammaError,
    GammaInsufficientCreditsError,
    GammaNotFoundError,
    GammaParameterError,
    GammaPermissionError,
    GammaProtocolError,
    GammaRateLimitError,
    GammaServerError,
    GammaSubmissionUncertainError,
    GammaTransportError,
    GammaValidationError,
)
from airflow_provider_gamma.parameters import MAX_POLL_INTERVAL, seconds

API_PREFIX = "/v1.0"
#: Gamma's documented page size ceiling for the list endpoints.
MAX_PAGE_SIZE = 50
#: Below this many requests left in the burst window Gamma's docs slow polling to 15 s.
LOW_BURST_REMAINING = 100
SLOW_POLL_INTERVAL = 15.0

GenerationStatus = Literal["pending", "completed", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})


# --- results -----------------------------------------------------------------------------------------
# TypedDicts keep Gamma's own JSON shape (and camelCase), so what the provider returns to XCom is what
# Gamma documents.


class Credits(TypedDict):
    deducted: float
    remaining: float


class GenerationErrorBody(TypedDict):
    message: str
    statusCode: NotRequired[int]


class GenerationCreated(TypedDict):
    """Answer of ``POST /v1.0/generations`` and ``POST /v1.0/generations/from-template``.

    ``pageWarnings`` (multi-page files) is kept as Gamma sends it: its schema is not published.
    """

    generationId: str
    warnings: NotRequired[str]
    pageWarnings: NotRequired[Any]


class Generation(TypedDict):
    """Answer of ``GET /v1.0/generations/{id}`` or ``GET /v1.0/agent/generations/{id}``; the fields
    past ``status`` appear as the job ends.

    An agent (Gamma 5) answer carries the gamma as a ``gamma`` object and the agent's own words in
    ``result.summary``; :func:`read_generation` also copies them to ``gammaId``/``gammaUrl`` and
    ``summary`` so that both engines read alike. ``progress`` (agent, while pending) is passed through
    as Gamma sends it: its schema is not settled.
    """

    generationId: str
    status: GenerationStatus
    gammaId: NotRequired[str]
    gammaUrl: NotRequired[str]
    exportUrl: NotRequired[str]
    credits: NotRequired[Credits]
    error: NotRequired[GenerationErrorBody]
    warnings: NotRequired[str]
    pageWarnings: NotRequired[Any]
    summary: NotRequired[str]
    progress: NotRequired[dict[str, Any]]


class Theme(TypedDict):
    id: str
    name: str
    type: str
    colorKeywords: NotRequired[list[str]]
    toneKeywords: NotRequired[list[str]]


class Folder(TypedDict):
    id: str
    name: str


class Page(TypedDict):
    data: list[dict[str, Any]]
    hasMore: bool
    nextCursor: str | None


class GammaHit(TypedDict):
    """One hit of ``GET /v1.0/gammas/search``: a gamma (file), not a generation."""

    id: str
    title: str
    url: NotRequired[str]
    updatedTime: NotRequired[str]
    archived: NotRequired[bool]
    highlight: NotRequired[str]


class Gamma(TypedDict):
    """Answer of ``GET /v1.0/gammas/{id}``."""

    id: str
    title: NotRequired[str]
    url: NotRequired[str]
    type: NotRequired[str]
    createdTime: NotRequired[str]
    updatedTime: NotRequired[str]
    archived: NotRequired[bool]


ExportStatus = Literal["pending", "completed", "failed"]


class Export(TypedDict):
    """Answer of ``GET /v1.0/exports/{id}``: an export of an existing gamma."""

    exportId: str
    status: ExportStatus
    exportAs: NotRequired[str]
    gammaId: NotRequired[str]
    exportUrl: NotRequired[str]
    error: NotRequired[Any]


class ArchiveResult(TypedDict):
    gammaId: str
    archived: bool


class DeleteResult(TypedDict):
    status: str
    gammaId: str
    message: NotRequired[str]


# --- requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    """One call to the Gamma API, independent of the HTTP library that sends it.

    :param starts_generation: the call starts a paid generation, so it is retried only when Gamma
        certainly did not act on it (429, or the connection never opened).
    :param timeout: seconds this call may take at most, when shorter than the connection's timeout
        (e.g. what is left of the task's ``execution_timeout``).
    """

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    starts_generation: bool = False
    timeout: float | None = None

    def timeout_within(self, connection_timeout: float) -> float:
        """The seconds to allow this call: the connection's timeout, or less when the call says so."""
        return connection_timeout if self.timeout is None else min(self.timeout, connection_timeout)

    def url(self, base_url: str) -> str:
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"{base_url.rstrip('/')}{self.path}{query}"

    def describe(self) -> str:
        return f"{self.method} {self.path}"


def _path_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value.strip(), safe="")


def create_generation_request(body: Mapping[str, Any], *, timeout: float | None = None) -> ApiRequest:
    return ApiRequest("POST", f"{API_PREFIX}/generations", json=body, starts_generation=True, timeout=timeout)


#: Gamma 5 agent generation ids start with this; classic ids do not (Gamma's own n8n node relies on it).
AGENT_ID_PREFIX = "gen_"


def is_agent_generation(generation_id: str) -> bool:
    """Whether ``generation_id`` is a Gamma 5 agent generation's (polled under ``/v1.0/agent``)."""
    return isinstance(generation_id, str) and generation_id.strip().startswith(AGENT_ID_PREFIX)


def create_agent_generation_request(body: Mapping[str, Any], *, timeout: float | None = None) -> ApiRequest:
    """``POST /v1.0/agent/generations``: the Gamma 5 agent plans, writes and designs from a prompt."""
    return ApiRequest(
        "POST", f"{API_PREFIX}/agent/generations", json=body, starts_generation=True, timeout=timeout
    )


def create_generation_from_template_request(
    body: Mapping[str, Any], *, timeout: float | None = None
) -> ApiRequest:
    return ApiRequest(
        "POST", f"{API_PREFIX}/generations/from-template", json=body, starts_generation=True, timeout=timeout
    )


def get_generation_request(generation_id: str) -> ApiRequest:
    """The status poll of either engine, chosen by the id's kind (see :func:`is_agent_generation`)."""
    collection = "agent/generations" if is_agent_generation(generation_id) else "generations"
    return ApiRequest("GET", f"{API_PREFIX}/{collection}/{_path_id(generation_id, 'generation_id')}")


def list_request(
    collection: Literal["themes", "folders"], query: str | None, after: str | None
) -> ApiRequest:
    params = {"limit": str(MAX_PAGE_SIZE)}
    if query:
        params["query"] = query
    if after:
        params["after"] = after
    return ApiRequest("GET", f"{API_PREFIX}/{collection}", params=params)


def archive_gamma_request(gamma_id: str) -> ApiRequest:
    return ApiRequest("POST", f"{API_PREFIX}/gammas/{_path_id(gamma_id, 'gamma_id')}/archive")


def delete_gamma_request(gamma_id: str) -> ApiRequest:
    return ApiRequest("DELETE", f"{API_PREFIX}/gammas/{_path_id(gamma_id, 'gamma_id')}")


#: Gamma's ceiling for ``limit`` of ``GET /v1.0/gammas/search``.
MAX_SEARCH_LIMIT = 25


def search_gammas_request(
    query: str,
    *,
    updated_after: datetime | None = None,
    include_archived: bool = False,
    limit: int = MAX_SEARCH_LIMIT,
    after: str | None = None,
) -> ApiRequest:
    """``GET /v1.0/gammas/search``: gammas whose content matches ``query``, newest first."""
    params = {"q": query, "limit": str(limit)}
    if updated_after is not None:
        params["updatedAfter"] = updated_after.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if include_archived:
        params["includeArchived"] = "true"
    if after:
        params["after"] = after
    return ApiRequest("GET", f"{API_PREFIX}/gammas/search", params=params)


def get_gamma_request(gamma_id: str) -> ApiRequest:
    return ApiRequest("GET", f"{API_PREFIX}/gammas/{_path_id(gamma_id, 'gamma_id')}")


def export_gamma_request(gamma_id: str, export_as: str) -> ApiRequest:
    """``POST /v1.0/gammas/{id}/export``: a new export of an existing gamma (not a generation)."""
    return ApiRequest(
        "POST", f"{API_PREFIX}/gammas/{_path_id(gamma_id, 'gamma_id')}/export", json={"exportAs": export_as}
    )


def get_export_request(export_id: str) -> ApiRequest:
    return ApiRequest("GET", f"{API_PREFIX}/exports/{_path_id(export_id, 'export_id')}")


def request_headers(api_key: str, user_agent: str) -> dict[str, str]:
    """Headers for every API call. ``X-API-KEY`` is Gamma's auth header (``Authorization`` is refused)."""
    return {
        "X-API-KEY": api_key,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": user_agent,
    }


# --- responses ---------------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _int_header(lowered: Mapping[str, str], name: str) -> int | None:
    value = lowered.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RateLimit:
    """Gamma's ``x-ratelimit-*`` headers of one answer; ``None`` where a header was absent."""

    limit_burst: int | None = None
    remaining_burst: int | None = None
    limit_hourly: int | None = None
    remaining_hourly: int | None = None
    limit_daily: int | None = None
    remaining_daily: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        lowered = {key.lower(): value for key, value in headers.items()}
        return cls(
            limit_burst=_int_header(lowered, "x-ratelimit-limit-burst"),
            remaining_burst=_int_header(lowered, "x-ratelimit-remaining-burst"),
            limit_hourly=_int_header(lowered, "x-ratelimit-limit"),
            remaining_hourly=_int_header(lowered, "x-ratelimit-remaining"),
            limit_daily=_int_header(lowered, "x-ratelimit-limit-daily"),
            remaining_daily=_int_header(lowered, "x-ratelimit-remaining-daily"),
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


#: Largest API answer read: Gamma's answers are a few KiB; a bigger one is not Gamma's.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ApiResponse:
    """What a transport hands back: status, headers and the whole (small, JSON) body.

    :param oversize: the answer was longer than :data:`MAX_ANSWER_BYTES`; ``body`` holds its start.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    oversize: bool = False

    @classmethod
    def received(
        cls, status: int, headers: Mapping[str, str], body: bytes, *, secret: str, oversize: bool = False
    ) -> ApiResponse:
        """The answer as a transport read it, with ``secret`` (the API key) blanked out of the body: a
        proxy or WAF page that echoes the request headers must not carry the key into the messages
        built from it (trigger events land in the metadata DB, where no log masker applies)."""
        if secret and secret.encode() in body:
            body = body.replace(secret.encode(), b"***")
        return cls(status, headers, body, oversize)

    @property
    def request_id(self) -> str | None:
        return _header(self.headers, "x-request-id")

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit.from_headers(self.headers)


def _gamma_message(response: ApiResponse) -> str:
    """Gamma's ``message`` from an error envelope, else a short excerpt of whatever came back."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("message"), str | list):
        message = payload["message"]
        return _redact("; ".join(map(str, message)) if isinstance(message, list) else message)
    text = response.body[:300].decode("utf-8", "replace").strip()
    return _redact(text) or "(empty body)"


def error_for(request: ApiRequest, response: ApiResponse) -> GammaError:
    """The typed exception for a non-2xx answer, carrying Gamma's message, the status and x-request-id."""
    message = f"{request.describe()}: {_gamma_message(response)}"
    status, request_id = response.status, response.request_id
    if status == 429:
        retry_after = parse_retry_after(_header(response.headers, "retry-after"))
        return GammaRateLimitError(message, request_id=request_id, retry_after=retry_after)
    if status == 402 or (status == 403 and "insufficient credits" in message.lower()):
        return GammaInsufficientCreditsError(message, http_status=status, request_id=request_id)
    error_class: type[GammaError] = {
        400: GammaValidationError,
        422: GammaValidationError,
        401: GammaAuthenticationError,
        403: GammaPermissionError,
        404: GammaNotFoundError,
    }.get(status, GammaServerError if status >= 500 else GammaError)
    return error_class(message, http_status=status, request_id=request_id)


def parse_response(request: ApiRequest, response: ApiResponse) -> Any:
    """The decoded JSON body of a 2xx answer; any other answer raises the matching :class:`GammaError`."""
    if not 200 <= response.status < 300:
        raise error_for(request, response)
    if response.oversize:
        if request.starts_generation:
            raise _unreadable_submission(request, f"an answer over {MAX_ANSWER_BYTES:,} bytes")
        raise GammaProtocolError(
            f"{request.describe()}: answer is over {MAX_ANSWER_BYTES:,} bytes, far more than any of Gamma's",
            http_status=response.status,
            request_id=response.request_id,
        )
    try:
        return json.loads(response.body)
    except ValueError:
        if request.starts_generation:
            raise _unreadable_submission(request, f"a {response.status} answer that is not JSON") from None
        raise GammaProtocolError(
            f"{request.describe()}: answer is not JSON: {_redact(repr(response.body[:200]))}",
            http_status=response.status,
            request_id=response.request_id,
        ) from None


def _require(payload: Any, keys: tuple[str, ...], request: ApiRequest) -> dict[str, Any]:
    if not isinstance(payload, dict) or any(key not in payload for key in keys):
        raise GammaProtocolError(
            f"{request.describe()}: expected an object with {', '.join(keys)}, got {_excerpt(payload)}"
        )
    return payload


def _unreadable_submission(request: ApiRequest, what: str) -> GammaSubmissionUncertainError:
    # Gamma said yes (2xx) but not to what: a generation is probably running and billed.
    return GammaSubmissionUncertainError(
        f"{request.describe()}: Gamma accepted the request but sent {what}, so the generation's id is "
        "unknown; it is probably running and billed"
    )


def read_generation_created(request: ApiRequest, payload: Any) -> GenerationCreated:
    """The accepted generation; an answer without a usable ``generationId`` is an uncertain submission."""
    generation_id = payload.get("generationId") if isinstance(payload, dict) else None
    if not isinstance(generation_id, str) or not generation_id.strip():
        raise _unreadable_submission(request, f"no generationId ({_excerpt(payload)})")
    return cast(GenerationCreated, payload)


def page_warnings(created: Mapping[str, Any]) -> list[str]:
    """The ``pageWarnings`` of a multi-page POST as lines to log, whatever their shape: strings, or
    objects with a message and the page's index or path."""
    warnings = created.get("pageWarnings")
    if not warnings:
        return []
    lines = []
    for item in warnings if isinstance(warnings, list) else [warnings]:
        if isinstance(item, Mapping):
            where = next((item[key] for key in ("pageIndex", "page", "path") if key in item), None)
            text = item.get("message") or item.get("warning") or item
            page = f"page {where + 1}" if isinstance(where, int) else f"page {where}" if where else "a page"
            lines.append(_redact(f"{page}: {text}"))
        else:
            lines.append(_redact(str(item)))
    return lines


def _excerpt(payload: Any) -> str:
    return _redact(repr(payload))[:200]


def read_search(request: ApiRequest, payload: Any) -> tuple[list[GammaHit], str | None]:
    """The hits of one search answer (malformed ones dropped) and the next page's cursor, if any."""
    hits = _require(payload, ("hits",), request)["hits"]
    if not isinstance(hits, list):
        raise GammaProtocolError(f"{request.describe()}: 'hits' is not a list")
    usable = [
        cast(GammaHit, hit)
        for hit in hits
        if isinstance(hit, dict) and isinstance(hit.get("id"), str) and isinstance(hit.get("title"), str)
    ]
    cursor = payload.get("nextCursor")
    more = payload.get("hasMore", cursor is not None)
    return usable, cursor if more and isinstance(cursor, str) and cursor else None


def read_gamma(request: ApiRequest, payload: Any) -> Gamma:
    return cast(Gamma, _require(payload, ("id",), request))


def read_export_created(request: ApiRequest, payload: Any) -> str:
    export_id = _require(payload, ("exportId",), request)["exportId"]
    if not isinstance(export_id, str) or not export_id:
        raise GammaProtocolError(f"{request.describe()}: 'exportId' is not a string")
    return export_id


def read_export(request: ApiRequest, payload: Any) -> Export:
    export = _require(payload, ("exportId", "status"), request)
    if export["status"] not in ("pending", "completed", "failed"):
        raise GammaProtocolError(f"{request.describe()}: unknown export status {export['status']!r}")
    return cast(Export, export)


def read_generation(request: ApiRequest, payload: Any) -> Generation:
    """A generation's status; ``error`` is made a :class:`GenerationErrorBody` whatever Gamma sent
    (``null``, a string, an object without ``message``), so callers can read it without checks."""
    generation = _require(payload, ("generationId", "status"), request)
    if generation["status"] not in ("pending", "completed", "failed"):
        raise GammaProtocolError(f"{request.describe()}: unknown generation status {generation['status']!r}")
    error = generation.pop("error", None)
    if generation["status"] == "failed" or error:
        generation["error"] = _error_body(error)
    gamma, result = generation.get("gamma"), generation.get("result")
    if isinstance(gamma, dict):  # agent answers
        for key, field_name in (("id", "gammaId"), ("url", "gammaUrl")):
            if isinstance(gamma.get(key), str) and not isinstance(generation.get(field_name), str):
                generation[field_name] = gamma[key]
    if isinstance(result, dict) and isinstance(result.get("summary"), str):
        generation.setdefault("summary", result["summary"])
    if "progress" in generation and not isinstance(generation["progress"], dict):
        del generation["progress"]
    return cast(Generation, generation)


def _error_body(error: Any) -> GenerationErrorBody:
    if isinstance(error, str) and error.strip():
        return {"message": error.strip()}
    body: GenerationErrorBody = {"message": "no reason given"}
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, list):
            message = "; ".join(map(str, message))
        if isinstance(message, str) and message.strip():
            body["message"] = message.strip()
        status = error.get("statusCode")
        if isinstance(status, int) and not isinstance(status, bool):
            body["statusCode"] = status
    return body


def failure_reason(generation: Generation) -> str:
    """Gamma's message for a failed generation, as read by :func:`read_generation`."""
    return generation.get("error", {}).get("message", "no reason given")


def export_failure_reason(export: Export) -> str:
    """Gamma's reason for a failed export (its ``error`` in any shape, and a ``reason`` code if any)."""
    message = _error_body(export.get("error"))["message"]
    reason = cast(dict[str, Any], export).get("reason")
    return f"{message} ({reason})" if isinstance(reason, str) and reason else message


def read_page(request: ApiRequest, payload: Any) -> Page:
    page = _require(payload, ("data", "hasMore"), request)
    if not isinstance(page["data"], list):
        raise GammaProtocolError(f"{request.describe()}: 'data' is not a list")
    page.setdefault("nextCursor", None)
    return cast(Page, page)


def next_page_cursor(page: Page) -> str | None:
    """The cursor of the next page, or ``None`` when this was the last one."""
    return page["nextCursor"] if page["hasMore"] and page["nextCursor"] else None


# --- when to retry, when to poll -------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How the hook rides out rate limits and transient failures.

    :param max_attempts: attempts per call, the first included.
    :param backoff: first wait after a 5xx or a network failure; doubles per attempt.
    :param max_backoff: ceiling of any single wait.
    :param rate_limit_backoff: first wait after a 429 that has no ``Retry-After``; Gamma's docs say
        30 s, then exponential backoff.
    :param jitter: spread waits by up to +/-25 % so many clients do not retry in lockstep.
    """

    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    rate_limit_backoff: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise GammaParameterError(
                f"Invalid Gamma parameter max_attempts={attempts!r}: must be a whole number from 1 to 100"
            )
        for name in ("backoff", "max_backoff", "rate_limit_backoff"):
            seconds(getattr(self, name), name, allow_zero=True, maximum=MAX_POLL_INTERVAL)
        if not isinstance(self.jitter, bool):
            raise GammaParameterError(
                f"Invalid Gamma parameter jitter={self.jitter!r}: must be True or False"
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


def poll_delay(interval: float, rate_limit: RateLimit | None) -> float:
    """Seconds until the next status poll: ``interval``, or Gamma's 15 s when the burst budget runs low."""
    remaining = rate_limit.remaining_burst if rate_limit is not None else None
    if remaining is not None and remaining < LOW_BURST_REMAINING:
        return max(interval, SLOW_POLL_INTERVAL)
    return interval


class RateBudget:
    """One process's share of Gamma's rate limits for one API key, spent by every poller of that key.

    Gamma reports what is left of each window (``x-ratelimit-remaining-burst``, ``-remaining``,
    ``-remaining-daily``) on every answer; that count is the one signal all processes using a key
    share. Each request takes a ticket and gives it back with its answer (:meth:`observe`) or without
    one (:meth:`release`). The budget is the smallest ``remaining`` of the newest answer, less a reserve
    of each window's limit and less every request still in flight (Gamma may or may not have counted
    those yet, so they are assumed spent). When it is spent, one probe per ``probe_interval`` goes out
    to learn whether the window has refilled, and the other pollers wait. A 429 pauses everybody for
    its ``Retry-After``.

    Other processes on the same key (a second triggerer, a worker) spend the same windows. Between two
    answers Gamma's count falls by what everybody sent; what it falls beyond this process's own
    requests in between is the others' spending. The budget keeps a decaying tally of both and spends
    only its own share of what is left (with two equally busy triggerers, half each), and probes a spent
    window at its share of the probe rate, so the processes together stay inside the window without
    ever talking to each other.

    :param reserve: fraction of each window's limit left unspent, for other clients of the same key.
    :param probe_interval: seconds between probes while the budget is spent (of all processes
        together: each probes at its share of that rate).
    """

    #: The tally remembers about this many windows' worth of requests (older ones fade out).
    TALLY_MEMORY_WINDOWS = 1.0

    def __init__(self, *, reserve: float = 0.05, probe_interval: float = 1.0) -> None:
        self.reserve = reserve
        self.probe_interval = probe_interval
        self._allowance: float = math.inf
        self._issued = 0
        self._in_flight = 0
        self._newest_seen = -1
        self._paused_until = -math.inf
        self._next_probe = -math.inf
        self._last_count: tuple[int, int] | None = None  # (window limit, remaining) of the newest answer
        self._own_tally = 0.0
        self._others_tally = 0.0

    def acquire(self, now: float) -> tuple[int, float]:
        """``(ticket, 0.0)`` when a request may go now, else ``(-1, seconds to wait before asking again)``."""
        if now < self._paused_until:
            return -1, self._paused_until - now
        if self._allowance < 1:
            if now < self._next_probe:
                return -1, self._next_probe - now
            # The others probe too: together, one probe per ``probe_interval``.
            self._next_probe = now + self.probe_interval / max(0.1, 1.0 - self.others_share)
        self._allowance -= 1
        self._in_flight += 1
        ticket = self._issued
        self._issued += 1
        return ticket, 0.0

    def release(self, ticket: int) -> None:
        """The request of ``ticket`` ended without an answer (network failure)."""
        self._in_flight -= 1

    def observe(self, ticket: int, rate_limit: RateLimit) -> None:
        """Learn from the answer to ``ticket``; an answer older than one already seen only frees its slot."""
        self._in_flight -= 1
        if ticket <= self._newest_seen:
            return
        own_since, self._newest_seen = ticket - self._newest_seen, ticket
        self._tally(own_since, rate_limit)
        windows = (
            (rate_limit.remaining_burst, rate_limit.limit_burst),
            (rate_limit.remaining_hourly, rate_limit.limit_hourly),
            (rate_limit.remaining_daily, rate_limit.limit_daily),
        )
        allowance = math.inf
        for remaining, limit in windows:
            if remaining is not None:
                floor = max(1.0, self.reserve * limit) if limit else 1.0
                allowance = min(allowance, remaining - floor)
        self._allowance = allowance * (1.0 - self.others_share) - self._in_flight

    @property
    def others_share(self) -> float:
        """The inferred fraction of the key's recent requests that other processes sent (0 to 1)."""
        total = self._own_tally + self._others_tally
        return self._others_tally / total if total > 0 else 0.0

    def _tally(self, own_since: int, rate_limit: RateLimit) -> None:
        """Split how far Gamma's count fell since the previous answer into ours and the others'."""
        for remaining, limit in (
            (rate_limit.remaining_burst, rate_limit.limit_burst),
            (rate_limit.remaining_hourly, rate_limit.limit_hourly),
        ):
            if remaining is None:
                continue
            previous, self._last_count = self._last_count, (limit or 0, remaining)
            if previous is None or previous[0] != (limit or 0) or not 0 < remaining <= previous[1]:
                return  # the first answer, another window, a refill, or an empty window: no evidence
            fell = previous[1] - remaining
            # Fade by requests counted, not by answers: a burst of our own answers must not wash out
            # what the others spent just before it.
            keep = math.exp(-fell / (self.TALLY_MEMORY_WINDOWS * max(1, limit or 0, previous[1])))
            self._own_tally = self._own_tally * keep + own_since
            self._others_tally = self._others_tally * keep + max(0, fell - own_since)
            return

    def pause(self, seconds: float, now: float) -> None:
        """Send nothing for ``seconds`` (Gamma answered 429)."""
        self._paused_until = max(self._paused_until, now + seconds)

    @property
    def spent(self) -> bool:
        return self._allowance < 1


@dataclass(frozen=True)
class Retry:
    """The outcome of one attempt was a transient failure: wait ``delay`` seconds and send again."""

    delay: float
    error: GammaError


def settle(
    request: ApiRequest, outcome: ApiResponse | GammaTransportError, attempt: int, policy: RetryPolicy
) -> Any:
    """Decide what one attempt's outcome means: the decoded payload, a :class:`Retry`, or a raised error.

    When a request that starts a generation fails after it may have reached Gamma, the error raised is
    :class:`GammaSubmissionUncertainError`: Gamma may be generating (and billing) a deck whose id never
    arrived, so neither this client nor an Airflow task retry may send it again.
    """
    try:
        if isinstance(outcome, GammaTransportError):
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


def transport_error(
    request: ApiRequest, cause: BaseException, *, reached_server: bool
) -> GammaTransportError:
    """A :class:`GammaTransportError` for a network failure, without echoing URLs' query strings."""
    kind = type(cause).__name__
    return GammaTransportError(
        f"{request.describe()}: {kind}: {_redact(str(cause))}", reached_server=reached_server
    )


def _redact(text: str) -> str:
    # Signed export URLs carry their signature in the query string; keep it out of logs.
    return _QUERY.sub(r"\1?...", text)[:500]


_QUERY = re.compile(r"(\w+://[^\s?'\"<>]+)\?[^\s'\")<>]*")
