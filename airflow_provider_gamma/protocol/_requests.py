# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The calls of the Gamma API as :class:`ApiRequest` values, independent of the HTTP library that sends them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

from airflow_provider_gamma.exceptions import GammaParameterError

API_PREFIX = "/v1.0"
#: Gamma's documented page size ceiling for the list endpoints.
MAX_PAGE_SIZE = 50


@dataclass(frozen=True)
class ApiRequest:
    """One call to the Gamma API, independent of the HTTP library that sends it.

    :param starts_generation: the call starts a paid generation, so it is retried only when Gamma
        certainly did not act on it (429, or the connection never opened).
    :param timeout: seconds this call may take at most, when shorter than the connection's timeout
        (e.g. what is left of the task's ``execution_timeout``).
    :param content_type: the ``Content-Type`` of a raw body (an upload) sent instead of ``json``. The
        bytes are not part of the request: the caller hands the transport a fresh source per attempt.
    :param content_length: the raw body's length in bytes, sent as ``Content-Length`` (Gamma refuses
        chunked uploads); set together with ``content_type``.
    :param min_timeout: seconds each attempt may take at least, whatever the connection's timeout (a
        streamed upload of many MiB needs longer than a JSON call); ``timeout`` still caps it.
    """

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    starts_generation: bool = False
    timeout: float | None = None
    content_type: str | None = None
    content_length: int | None = None
    min_timeout: float | None = None

    @property
    def streams_body(self) -> bool:
        """Whether the call sends a raw body of ``content_length`` bytes (an upload), not JSON."""
        return self.content_length is not None

    def body_headers(self) -> dict[str, str]:
        """``Content-Type`` and ``Content-Length`` of a raw body; empty for a JSON call."""
        if self.content_length is None:
            return {}
        return {
            "Content-Type": self.content_type or "application/octet-stream",
            "Content-Length": str(self.content_length),
        }

    def timeout_within(self, connection_timeout: float) -> float:
        """The seconds to allow one attempt: the connection's timeout (or ``min_timeout`` when longer),
        or less when the call says so."""
        allowed = (
            connection_timeout if self.min_timeout is None else max(connection_timeout, self.min_timeout)
        )
        return allowed if self.timeout is None else min(self.timeout, allowed)

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


#: Gamma's ceiling for ``limit`` of ``GET /v1.0/gammas/search``; search has no further pages.
MAX_SEARCH_LIMIT = 25


def _search_time(moment: datetime) -> str:
    """ISO-8601 in UTC to the millisecond, rounded down (as JavaScript's ``toISOString``); a naive
    ``datetime`` is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def search_gammas_request(
    query: str | None = None,
    *,
    created_by: str | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    include_archived: bool = False,
    limit: int = MAX_SEARCH_LIMIT,
) -> ApiRequest:
    """``GET /v1.0/gammas/search``: gammas whose title or text matches ``query`` (by relevance), or
    without a query those the filters keep (newest update first). Gamma documents no cursor: one
    request is the whole answer.

    :raises GammaParameterError: ``limit`` is not 1 to :data:`MAX_SEARCH_LIMIT`, or neither a query nor a
        filter (``created_by``, ``updated_after``, ``updated_before``) narrows the search.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise GammaParameterError(
            f"limit must be 1 to {MAX_SEARCH_LIMIT} (Gamma's ceiling; search has no pages), got {limit!r}"
        )
    query = query.strip() if query else None
    if not (query or created_by or updated_after or updated_before):
        raise GammaParameterError(
            "a search needs a query or a filter (created_by, updated_after, updated_before)"
        )
    params = {"q": query} if query else {}
    params["limit"] = str(limit)
    if created_by:
        params["createdBy"] = created_by
    if updated_after is not None:
        params["updatedAfter"] = _search_time(updated_after)
    if updated_before is not None:
        params["updatedBefore"] = _search_time(updated_before)
    if include_archived:
        params["includeArchived"] = "true"
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
