# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The calls that keep one deck current (Gamma's §18b endpoints), with no I/O: uploads the agent reads
as sources, agent edits of an existing gamma and their status, a deck's analytics (totals, cards,
viewers) and the template search.

Gamma's pages for these endpoints were read only in part (see each docstring): where a field's name is
unpublished the readers accept the likely alternatives, copy them to one documented key, and pass every
other key through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import unquote

from airflow_provider_gamma.exceptions import (
    GammaParameterError,
    GammaProtocolError,
    GammaSubmissionUncertainError,
)
from airflow_provider_gamma.protocol._answers import (
    _agent_extras,
    _error_body,
    _excerpt,
    _require,
    _text,
    failure_reason,
)
from airflow_provider_gamma.protocol._models import (
    CardAnalytics,
    Edit,
    EditCreated,
    GammaAnalytics,
    Template,
    TemplateSearch,
    Upload,
    ViewerPage,
)
from airflow_provider_gamma.protocol._requests import API_PREFIX, ApiRequest, _path_id

#: Gamma's ceiling for one upload (images also stop at 50 megapixels, which Gamma checks).
MAX_UPLOAD_BYTES = 250 * 1024 * 1024
#: Seconds one upload attempt may take in all, as long as an export download: a 250 MiB file on a slow
#: link must not fail every attempt, while each socket write still stops at the connection's timeout.
UPLOAD_DEADLINE = 3600.0
#: Gamma's cap on the viewers one gamma's analytics list, and on one page of them.
MAX_VIEWERS = 500
MAX_VIEWER_PAGE_SIZE = 50
#: Gamma's ceiling for ``limit`` of the template search, applied to each of its two lists.
MAX_TEMPLATE_LIMIT = 25
SORT_DIRECTIONS = ("asc", "desc")


# --- uploads -----------------------------------------------------------------------------------------


def upload_request(size: int, *, filename: str | None = None, content_type: str | None = None) -> ApiRequest:
    """``POST /v1.0/uploads`` of ``size`` raw bytes, for the agent's ``files`` (generations and edits).

    The bytes are not in the request: the transport streams them from a source the caller opens afresh
    per attempt, with ``Content-Length: size`` (Gamma refuses chunked and content-encoded bodies). An
    upload starts nothing paid, so it is retried like a read; a lost answer leaves at most an orphan
    that Gamma drops after two days. Each attempt may take :data:`UPLOAD_DEADLINE` (an hour) in all.

    :param filename: the file's name, sent as the ``filename`` query parameter. **A guess**: Gamma's
        answer carries a ``filename`` but its page does not show how the name is sent.
    :param content_type: the body's ``Content-Type``; Gamma documents ``application/octet-stream`` (the
        default), whatever the file holds.
    :raises GammaParameterError: ``size`` is below 1 byte or over :data:`MAX_UPLOAD_BYTES`.
    """
    what = repr(filename) if filename else "the file"
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise GammaParameterError(
            f"cannot upload {what}: it is empty (size {size!r}); Gamma needs at least 1 byte"
        )
    if size > MAX_UPLOAD_BYTES:
        raise GammaParameterError(
            f"cannot upload {what}: it is {size:,} bytes ({size / 2**20:.1f} MiB), over Gamma's limit of "
            f"{MAX_UPLOAD_BYTES:,} bytes (250 MiB) a file"
        )
    return ApiRequest(
        "POST",
        f"{API_PREFIX}/uploads",
        params={"filename": filename} if filename else {},
        content_type=content_type or "application/octet-stream",
        content_length=size,
        min_timeout=UPLOAD_DEADLINE,
    )


def read_upload(request: ApiRequest, payload: Any) -> Upload:
    """The stored upload; its id is read from ``uploadId`` (documented), else ``id`` or a nested
    ``upload`` object (guesses), and put in ``uploadId``. Other keys pass through."""
    if not isinstance(payload, dict):
        raise GammaProtocolError(
            f"{request.describe()}: expected an object with uploadId, got {_excerpt(payload)}"
        )
    upload = payload.get("upload")
    nested: dict[str, Any] = upload if isinstance(upload, dict) else {}
    found = next(
        (
            value
            for source in (payload, nested)
            for key in ("uploadId", "id")
            if (value := _text(source.get(key)))
        ),
        None,
    )
    if found is None:
        raise GammaProtocolError(f"{request.describe()}: no uploadId in the answer: {_excerpt(payload)}")
    payload["uploadId"] = found
    if "filename" not in payload and _text(nested.get("filename")):
        payload["filename"] = nested["filename"]
    return cast(Upload, payload)


# --- agent edits -------------------------------------------------------------------------------------


def create_edit_request(
    gamma_id: str, body: Mapping[str, Any], *, timeout: float | None = None
) -> ApiRequest:
    """``POST /v1.0/agent/gammas/{gammaId}/edits``: the agent edits an existing gamma in place (same
    deck, same link). Billed, so sent like a generation (``starts_generation``: never resent once it
    may have reached Gamma). Gamma runs one edit per gamma at a time: a refusal because one is running
    raises :class:`~airflow_provider_gamma.exceptions.GammaEditInProgressError`.

    :param gamma_id: the gamma's file id, or the doc id of a ``gamma.app/docs/...`` URL.
    :param body: ``prompt`` and the edit's options (see ``parameters.edit_body``).
    """
    return ApiRequest(
        "POST",
        f"{API_PREFIX}/agent/gammas/{_path_id(gamma_id, 'gamma_id')}/edits",
        json=body,
        starts_generation=True,
        timeout=timeout,
    )


def read_edit_created(request: ApiRequest, payload: Any) -> EditCreated:
    """The started edit; an answer without a usable ``editId`` (also read from ``id``) is a
    :class:`GammaSubmissionUncertainError`: Gamma said yes, so an edit is probably running and billed."""
    edit_id = None
    if isinstance(payload, dict):
        edit_id = _text(payload.get("editId")) or _text(payload.get("id"))
    if edit_id is None:
        raise GammaSubmissionUncertainError(
            f"{request.describe()}: Gamma accepted the edit but sent no editId ({_excerpt(payload)}); "
            "the edit is probably running and billed"
        )
    payload["editId"] = edit_id
    return cast(EditCreated, payload)


def get_edit_request(edit_id: str) -> ApiRequest:
    """``GET /v1.0/agent/edits/{editId}``: an edit's status, polled until completed or failed."""
    return ApiRequest("GET", f"{API_PREFIX}/agent/edits/{_path_id(edit_id, 'edit_id')}")


def read_edit(request: ApiRequest, payload: Any) -> Edit:
    """An edit's status, read like an agent generation's: ``gammaId`` (documented at the top level; also
    read from ``gamma.gammaId``/``gamma.id``), ``gammaUrl`` (key unpublished: read from ``gammaUrl``,
    ``url``, ``gamma.gammaUrl`` or ``gamma.url``), ``summary`` from ``result.summary``, and ``error``
    made a :class:`GenerationErrorBody` whatever its shape. ``editId`` missing is taken from the
    request's path; everything else passes through."""
    edit = _require(payload, ("status",), request)
    if edit["status"] not in ("pending", "completed", "failed"):
        raise GammaProtocolError(f"{request.describe()}: unknown edit status {edit['status']!r}")
    if not _text(edit.get("editId")):
        edit["editId"] = unquote(request.path.rsplit("/", 1)[-1])
    error = edit.pop("error", None)
    if edit["status"] == "failed" or error:
        edit["error"] = _error_body(error)
    nested = edit.get("gamma")
    gamma: dict[str, Any] = nested if isinstance(nested, dict) else {}
    for field_name, sources in (
        ("gammaId", ((edit, "gammaId"), (gamma, "gammaId"), (gamma, "id"))),
        ("gammaUrl", ((edit, "gammaUrl"), (edit, "url"), (gamma, "gammaUrl"), (gamma, "url"))),
    ):
        found = next((value for source, key in sources if (value := _text(source.get(key)))), None)
        if found:
            edit[field_name] = found
    _agent_extras(edit)
    return cast(Edit, edit)


#: Gamma's message for a failed edit, as read by :func:`read_edit`.
edit_failure_reason = failure_reason


# --- analytics ---------------------------------------------------------------------------------------


def _analytics_path(gamma_id: str, tail: str = "") -> str:
    return f"{API_PREFIX}/gammas/{_path_id(gamma_id, 'gamma_id')}/analytics{tail}"


def gamma_analytics_request(gamma_id: str) -> ApiRequest:
    """``GET /v1.0/gammas/{gammaId}/analytics``: views, unique viewers and editors, card count, last
    opened, 30 days of daily viewers. Needs at least edit permission on the gamma (else 403)."""
    return ApiRequest("GET", _analytics_path(gamma_id))


def card_analytics_request(gamma_id: str) -> ApiRequest:
    """``GET /v1.0/gammas/{gammaId}/analytics/cards``: each card's name, position, view time and reach."""
    return ApiRequest("GET", _analytics_path(gamma_id, "/cards"))


def viewer_analytics_request(
    gamma_id: str,
    *,
    after: str | None = None,
    limit: int = MAX_VIEWER_PAGE_SIZE,
    sort_direction: str | None = None,
) -> ApiRequest:
    """``GET /v1.0/gammas/{gammaId}/analytics/viewers``: one page of per-viewer engagement (all viewers
    with manage permission, else only the key's own user; at most :data:`MAX_VIEWERS` in all).

    :param after: the previous page's ``nextCursor``.
    :param limit: viewers per page, 1 to :data:`MAX_VIEWER_PAGE_SIZE`.
    :param sort_direction: ``asc`` or ``desc`` by the viewer's last open (Gamma's default: ``desc``).
    :raises GammaParameterError: ``limit`` or ``sort_direction`` out of range.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_VIEWER_PAGE_SIZE:
        raise GammaParameterError(
            f"limit must be 1 to {MAX_VIEWER_PAGE_SIZE} (Gamma's page ceiling), got {limit!r}"
        )
    if sort_direction is not None and sort_direction not in SORT_DIRECTIONS:
        raise GammaParameterError(f"sort_direction must be 'asc' or 'desc', got {sort_direction!r}")
    params = {"limit": str(limit)}
    if after:
        params["after"] = after
    if sort_direction:
        params["sortDirection"] = sort_direction
    return ApiRequest("GET", _analytics_path(gamma_id, "/viewers"), params=params)


def _gamma_id_of(request: ApiRequest, payload: dict[str, Any]) -> None:
    """``gammaId`` from the path when the answer lacks it (the analytics paths carry it)."""
    if not _text(payload.get("gammaId")):
        parts = request.path.split("/")
        payload["gammaId"] = unquote(parts[parts.index("gammas") + 1])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_gamma_analytics(request: ApiRequest, payload: Any) -> GammaAnalytics:
    """A gamma's analytics: ``totalViews`` and ``uniqueViewers`` (documented as required) must be
    numbers; ``lastOpenedTime`` is copied to ``lastOpened`` (the name a third-party client reads);
    everything else passes through."""
    analytics = _require(payload, ("totalViews", "uniqueViewers"), request)
    for key in ("totalViews", "uniqueViewers"):
        if not _number(analytics[key]):
            raise GammaProtocolError(
                f"{request.describe()}: {key!r} is not a number: {_excerpt(analytics[key])}"
            )
    if "lastOpened" not in analytics and "lastOpenedTime" in analytics:
        analytics["lastOpened"] = analytics["lastOpenedTime"]
    _gamma_id_of(request, analytics)
    return cast(GammaAnalytics, analytics)


def daily_views(analytics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The days of ``dailyViews`` (``[{date, uniqueViewers}, ...]``), whether Gamma sends an object
    with ``days`` or a bare list (sources differ); ``[]`` when absent or unreadable."""
    daily = analytics.get("dailyViews")
    days = daily.get("days") if isinstance(daily, Mapping) else daily
    return [day for day in days if isinstance(day, dict)] if isinstance(days, list) else []


def read_card_analytics(request: ApiRequest, payload: Any) -> CardAnalytics:
    """A gamma's per-card analytics: the list in ``cards`` (also read from ``data``); rows that are not
    objects are dropped, the rest passed through."""
    if not isinstance(payload, dict):
        raise GammaProtocolError(
            f"{request.describe()}: expected an object with cards, got {_excerpt(payload)}"
        )
    cards = payload.get("cards", payload.get("data"))
    if not isinstance(cards, list):
        raise GammaProtocolError(f"{request.describe()}: no list of cards in the answer: {_excerpt(payload)}")
    payload["cards"] = [card for card in cards if isinstance(card, dict)]
    _gamma_id_of(request, payload)
    return cast(CardAnalytics, payload)


def read_viewer_page(request: ApiRequest, payload: Any) -> ViewerPage:
    """One page of viewers: rows in ``data`` (also read from ``viewers``), ``viewerId`` also read from
    ``userId``; ``hasMore`` missing is taken from whether a ``nextCursor`` came. Follow the pages with
    :class:`Pagination` and :func:`next_page_cursor`."""
    if not isinstance(payload, dict):
        raise GammaProtocolError(
            f"{request.describe()}: expected an object with data, got {_excerpt(payload)}"
        )
    rows = payload.get("data", payload.get("viewers"))
    if not isinstance(rows, list):
        raise GammaProtocolError(
            f"{request.describe()}: no list of viewers in the answer: {_excerpt(payload)}"
        )
    payload["data"] = [row for row in rows if isinstance(row, dict)]
    for row in payload["data"]:
        if "viewerId" not in row and "userId" in row:
            row["viewerId"] = row["userId"]
    cursor = _text(payload.get("nextCursor"))
    payload["nextCursor"] = cursor
    if not isinstance(payload.get("hasMore"), bool):
        payload["hasMore"] = cursor is not None
    _gamma_id_of(request, payload)
    return cast(ViewerPage, payload)


# --- templates ---------------------------------------------------------------------------------------


def search_templates_request(query: str | None = None, *, limit: int = MAX_TEMPLATE_LIMIT) -> ApiRequest:
    """``GET /v1.0/templates/search``: the workspace's templates and Gamma's official ones, each list
    ranked by relevance to ``query`` (or in browse order without one). No cursor: one request.

    :param limit: 1 to :data:`MAX_TEMPLATE_LIMIT`, applied to each list.
    :raises GammaParameterError: ``limit`` out of range.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TEMPLATE_LIMIT:
        raise GammaParameterError(
            f"limit must be 1 to {MAX_TEMPLATE_LIMIT} (Gamma's ceiling per list), got {limit!r}"
        )
    query = query.strip() if query else None
    params = {"q": query} if query else {}
    params["limit"] = str(limit)
    return ApiRequest("GET", f"{API_PREFIX}/templates/search", params=params)


def read_template_search(request: ApiRequest, payload: Any) -> TemplateSearch:
    """Both lists of a template search (a missing one is ``[]``; neither is an error); a template
    without a string ``id`` is dropped."""
    lists = ("workspaceTemplates", "exploreTemplates")
    if not isinstance(payload, dict) or not any(isinstance(payload.get(key), list) for key in lists):
        raise GammaProtocolError(
            f"{request.describe()}: expected workspaceTemplates or exploreTemplates, got {_excerpt(payload)}"
        )
    for key in lists:
        items = payload.get(key)
        payload[key] = [
            cast(Template, item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and _text(item.get("id"))
        ]
    return cast(TemplateSearch, payload)
