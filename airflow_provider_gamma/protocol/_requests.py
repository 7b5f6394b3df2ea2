# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The calls of the Gamma API as :class:`ApiRequest` values, independent of the HTTP library that sends them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

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
