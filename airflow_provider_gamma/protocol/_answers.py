# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma's answers: an :class:`ApiResponse` as a transport read it, turned into a result or a typed
:class:`~airflow_provider_gamma.exceptions.GammaError` carrying Gamma's message and ``x-request-id``.
Everything built from an answer's text is redacted (no signed-URL query strings, no API key)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from airflow_provider_gamma.exceptions import (
    GammaArchivedError,
    GammaAuthenticationError,
    GammaError,
    GammaInsufficientCreditsError,
    GammaNotFoundError,
    GammaPermissionError,
    GammaProtocolError,
    GammaRateLimitError,
    GammaSearchNotEnabledError,
    GammaServerError,
    GammaSubmissionUncertainError,
    GammaTransportError,
    GammaValidationError,
)
from airflow_provider_gamma.protocol._models import (
    Edit,
    Export,
    Gamma,
    GammaHit,
    Generation,
    GenerationCreated,
    GenerationErrorBody,
    Page,
)
from airflow_provider_gamma.protocol._ratelimit import RateLimit, parse_retry_after
from airflow_provider_gamma.protocol._refusals import living_refusal
from airflow_provider_gamma.protocol._requests import API_PREFIX, ApiRequest


def header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


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
        return header(self.headers, "x-request-id")

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
        return redact("; ".join(map(str, message)) if isinstance(message, list) else message)
    text = response.body[:300].decode("utf-8", "replace").strip()
    return redact(text) or "(empty body)"


def error_for(request: ApiRequest, response: ApiResponse) -> GammaError:
    """The typed exception for a non-2xx answer, carrying Gamma's message, the status and x-request-id."""
    message = f"{request.describe()}: {_gamma_message(response)}"
    status, request_id = response.status, response.request_id
    if status == 429:
        retry_after = parse_retry_after(header(response.headers, "retry-after"))
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
    if status == 403 and request.method == "GET" and request.path == f"{API_PREFIX}/gammas/search":
        error_class = GammaSearchNotEnabledError
        message += " (Gamma rolls search out gradually: it is not enabled for this workspace yet)"
    elif status in (400, 403, 409, 422) and _starts_export(request) and "archived" in message.lower():
        error_class = GammaArchivedError  # documented: no export of an archived gamma; its status is not
    elif (refusal := living_refusal(request, status, message)) is not None:
        error_class, message = refusal
    return error_class(message, http_status=status, request_id=request_id)


def _starts_export(request: ApiRequest) -> bool:
    return (
        request.method == "POST"
        and request.path.startswith(f"{API_PREFIX}/gammas/")
        and request.path.endswith("/export")
    )


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
            f"{request.describe()}: answer is not JSON: {redact(repr(response.body[:200]))}",
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
            lines.append(redact(f"{page}: {text}"))
        else:
            lines.append(redact(str(item)))
    return lines


def _excerpt(payload: Any) -> str:
    return redact(repr(payload))[:200]


def read_search(request: ApiRequest, payload: Any) -> list[GammaHit]:
    """The hits of a search answer, ``{"hits": [...]}``; a hit without a string ``id`` and ``title`` is
    dropped. Gamma documents no cursor, so nothing past ``hits`` is read."""
    hits = _require(payload, ("hits",), request)["hits"]
    if not isinstance(hits, list):
        raise GammaProtocolError(f"{request.describe()}: 'hits' is not a list")
    return [
        cast(GammaHit, hit)
        for hit in hits
        if isinstance(hit, dict) and isinstance(hit.get("id"), str) and isinstance(hit.get("title"), str)
    ]


def read_gamma(request: ApiRequest, payload: Any) -> Gamma:
    return cast(Gamma, _require(payload, ("id",), request))


def read_export_created(request: ApiRequest, payload: Any) -> str:
    export_id = _require(payload, ("exportId",), request)["exportId"]
    if not isinstance(export_id, str) or not export_id:
        raise GammaProtocolError(f"{request.describe()}: 'exportId' is not a string")
    return export_id


def read_export(request: ApiRequest, payload: Any) -> Export:
    """An export's status; a failure code sent as ``error.reason`` is also put in ``reason``, where
    other sources send it."""
    export = _require(payload, ("exportId", "status"), request)
    if export["status"] not in ("pending", "completed", "failed"):
        raise GammaProtocolError(f"{request.describe()}: unknown export status {export['status']!r}")
    reason = _reason(export)
    export.pop("reason", None)
    if reason is not None:
        export["reason"] = reason
    return cast(Export, export)


def _reason(export: Mapping[str, Any]) -> str | None:
    error = export.get("error")
    nested = error.get("reason") if isinstance(error, dict) else None
    return _text(export.get("reason")) or _text(nested)


def _text(value: Any) -> str | None:
    """``value`` stripped, when it is a string with something in it."""
    return value.strip() or None if isinstance(value, str) else None


def read_generation(request: ApiRequest, payload: Any) -> Generation:
    """A generation's status; ``error`` is made a :class:`GenerationErrorBody` whatever Gamma sent
    (``null``, a string, an object without ``message``), so callers can read it without checks."""
    generation = _require(payload, ("generationId", "status"), request)
    if generation["status"] not in ("pending", "completed", "failed"):
        raise GammaProtocolError(f"{request.describe()}: unknown generation status {generation['status']!r}")
    error = generation.pop("error", None)
    if generation["status"] == "failed" or error:
        generation["error"] = _error_body(error)
    gamma = generation.get("gamma")
    if isinstance(gamma, dict):  # agent answers: gamma.gammaId/gammaUrl (older pages: gamma.id/url)
        for field_name, older in (("gammaId", "id"), ("gammaUrl", "url")):
            found = _text(gamma.get(field_name)) or _text(gamma.get(older))
            if found and not _text(generation.get(field_name)):
                generation[field_name] = found
    _agent_extras(generation)
    return cast(Generation, generation)


def _agent_extras(job: dict[str, Any]) -> None:
    """An agent run's own words (``result.summary``) as ``summary``; a ``progress`` that is not an
    object dropped rather than trusted (its keys are unpublished)."""
    result = job.get("result")
    if isinstance(result, dict) and isinstance(result.get("summary"), str):
        job.setdefault("summary", result["summary"])
    if "progress" in job and not isinstance(job["progress"], dict):
        del job["progress"]


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


def failure_reason(generation: Generation | Edit) -> str:
    """Gamma's message for a failed generation or edit, as read by :func:`read_generation` or
    :func:`read_edit`."""
    return generation.get("error", {}).get("message", "no reason given")


def export_failure_reason(export: Export) -> str:
    """Gamma's reason for a failed export: its ``error`` in any shape, with the failure code whether it
    came as ``reason`` or as ``error.reason`` (e.g. ``"Export failed (render_timeout)"``)."""
    message = _error_body(export.get("error"))["message"]
    reason = _reason(export)
    return message if reason is None or reason in message else f"{message} ({reason})"


def read_page(request: ApiRequest, payload: Any) -> Page:
    page = _require(payload, ("data", "hasMore"), request)
    if not isinstance(page["data"], list):
        raise GammaProtocolError(f"{request.describe()}: 'data' is not a list")
    page.setdefault("nextCursor", None)
    return cast(Page, page)


#: Most pages one listing is followed for (50 items a page): far beyond any workspace's themes or
#: folders, and a bound on a server whose cursors never end.
MAX_PAGES = 200


class Pagination:
    """The cursors of one listing, so a server that repeats a cursor or never stops cannot keep a
    caller listing forever: :meth:`follow` returns the next cursor, ``None`` at the end, or raises
    :class:`GammaProtocolError` naming the endpoint."""

    def __init__(self, endpoint: str, max_pages: int = MAX_PAGES) -> None:
        self.endpoint = endpoint
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[str] = set()

    def follow(self, cursor: str | None) -> str | None:
        self.pages += 1
        if cursor is None:
            return None
        if cursor in self._seen:
            raise GammaProtocolError(
                f"{self.endpoint}: page {self.pages} repeats an earlier page's cursor; stopped listing "
                "rather than loop forever"
            )
        if self.pages >= self.max_pages:
            raise GammaProtocolError(
                f"{self.endpoint}: still more after {self.pages} pages; stopped listing (at most "
                f"{self.max_pages} pages are read)"
            )
        self._seen.add(cursor)
        return cursor


def next_page_cursor(page: Page) -> str | None:
    """The cursor of the next page, or ``None`` when this was the last one."""
    return page["nextCursor"] if page["hasMore"] and page["nextCursor"] else None


def transport_error(
    request: ApiRequest, cause: BaseException, *, reached_server: bool
) -> GammaTransportError:
    """A :class:`GammaTransportError` for a network failure, without echoing URLs' query strings."""
    kind = type(cause).__name__
    return GammaTransportError(
        f"{request.describe()}: {kind}: {redact(str(cause))}", reached_server=reached_server
    )


def redact(text: str) -> str:
    """``text`` fit for a log: no query string of any URL or path (signed export URLs carry their
    signature there, and ``requests`` quotes them as bare paths: ``with url: /deck.pdf?X-Amz-...``)
    and no credentials in a URL (``http://user:password@proxy``, as aiohttp quotes a proxy)."""
    text = _USERINFO.sub(r"\1***@", text)
    return _QUERY.sub(r"\1?...", text)[:500]


_USERINFO = re.compile(r"(\w+://)[^\s/@'\"<>]+@")
_QUERY = re.compile(r"((?:\w+://|/)[^\s?'\"<>]*)\?[^\s'\")<>]*")
