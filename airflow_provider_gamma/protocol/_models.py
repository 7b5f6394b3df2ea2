# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What Gamma answers, as TypedDicts in Gamma's own JSON shape (and camelCase), so what the provider
returns to XCom is what Gamma documents."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

GenerationStatus = Literal["pending", "completed", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})


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

    An agent (Gamma 5) answer carries the deck as ``gamma.gammaId``/``gamma.gammaUrl`` (already while
    pending, once the document exists) and the agent's own words in ``result.summary``;
    :func:`read_generation` copies them to ``gammaId``/``gammaUrl`` and ``summary`` so that both
    engines read alike. A ``gammaId`` on a pending generation names a deck still being written.
    ``progress`` (agent, while pending) is passed through as Gamma sends it: its keys are unpublished.
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
    #: What the deck cost, in words (added by the generate operators; not a field of Gamma's).
    cost: NotRequired[str]


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
    """One hit of ``GET /v1.0/gammas/search``: a gamma (file), not a generation, so it carries no
    status and no generation id; a hit may be a deck whose generation is still running.

    ``createdBy`` is passed through as Gamma sends it: no source publishes its shape (the filter of
    the same name takes ``me``, an email or a user id).
    """

    id: str
    title: str
    url: NotRequired[str]
    highlight: NotRequired[str]
    createdBy: NotRequired[Any]
    updatedTime: NotRequired[str]
    archived: NotRequired[bool]


class Gamma(TypedDict):
    """Answer of ``GET /v1.0/gammas/{id}``: a gamma's metadata, as link previews show it.

    ``author`` is passed through as Gamma sends it: only its ``name`` is known (Gamma's own n8n node
    reads it); the rest of its shape is unpublished.
    """

    id: str
    title: NotRequired[str]
    type: NotRequired[str]  # "regular" or "template"
    url: NotRequired[str]
    thumbnailUrl: NotRequired[str]
    description: NotRequired[str]
    createdTime: NotRequired[str]
    updatedTime: NotRequired[str]
    archived: NotRequired[bool]
    author: NotRequired[Any]
    themeId: NotRequired[str]


ExportStatus = Literal["pending", "completed", "failed"]


class Export(TypedDict):
    """Answer of ``GET /v1.0/exports/{id}``: an export of an existing gamma.

    A failed export's code (``render_timeout``, ``deck_too_large``, ``no_content``, ``export_failed``)
    arrives as a top-level ``reason`` or as ``error.reason`` depending on the source;
    :func:`read_export` puts it in ``reason`` either way. ``error`` is otherwise passed through.
    """

    exportId: str
    status: ExportStatus
    exportAs: NotRequired[str]
    gammaId: NotRequired[str]
    exportUrl: NotRequired[str]
    error: NotRequired[Any]
    reason: NotRequired[str]


class ArchiveResult(TypedDict):
    gammaId: str
    archived: bool


class DeleteResult(TypedDict):
    status: str
    gammaId: str
    message: NotRequired[str]


# --- living decks: uploads, agent edits, analytics, template search ----------------------------------


class Upload(TypedDict):
    """Answer of ``POST /v1.0/uploads``: a stored file the agent may read, by its ``uploadId``.

    Gamma documents ``uploadId`` and ``filename``; :func:`read_upload` also reads the id from ``id`` or
    ``upload.uploadId`` (the answer's full schema is unpublished) and passes every other key through.
    An upload attaches to one generation or edit, and expires two days after it was made if never attached.
    """

    uploadId: str
    filename: NotRequired[str]


class EditCreated(TypedDict):
    """Answer of ``POST /v1.0/agent/gammas/{gammaId}/edits``: the edit to poll. ``warnings`` is a guess
    (the agent's generation answer has it; the edit answer's other fields are unpublished)."""

    editId: str
    warnings: NotRequired[Any]


EditStatus = Literal["pending", "completed", "failed"]


class Edit(TypedDict):
    """Answer of ``GET /v1.0/agent/edits/{editId}``; fields past ``status`` appear as the edit ends.

    Gamma documents ``editId``, ``status``, a top-level ``gammaId``, "the gamma URL" (its key is
    unpublished), ``result.summary`` (completed), ``error`` (failed) and ``credits`` (when Gamma's
    lookups succeed). :func:`read_edit` puts the URL in ``gammaUrl`` (from ``gammaUrl``, ``url`` or a
    ``gamma`` object, as agent generations send it), ``result.summary`` in ``summary``, and makes
    ``error`` a :class:`GenerationErrorBody`; ``exportUrl`` and ``progress`` are passed through if sent.
    """

    editId: str
    status: EditStatus
    gammaId: NotRequired[str]
    gammaUrl: NotRequired[str]
    credits: NotRequired[Credits]
    error: NotRequired[GenerationErrorBody]
    exportUrl: NotRequired[str]
    summary: NotRequired[str]
    progress: NotRequired[dict[str, Any]]


class GammaAnalytics(TypedDict):
    """Answer of ``GET /v1.0/gammas/{gammaId}/analytics`` (eventually consistent, about hourly).

    ``scope`` is ``all`` (the key's user may manage the gamma: every viewer) or ``self`` (edit
    permission: only the key user's own activity). Past ``totalViews`` the field names come from a
    third-party client, not from Gamma's page: ``lastOpened`` (also read from ``lastOpenedTime``) and
    ``dailyViews``, passed through as sent (an object ``{dayCount, timezone, days: [{date,
    uniqueViewers}]}`` or a list of days, by source; :func:`daily_views` reads either).
    """

    gammaId: str
    totalViews: float
    uniqueViewers: float
    scope: NotRequired[str]
    uniqueEditors: NotRequired[float]
    cardCount: NotRequired[float]
    lastOpened: NotRequired[str | None]
    dailyViews: NotRequired[Any]


class CardStats(TypedDict, total=False):
    """One card of :class:`CardAnalytics` (names from a third-party client; passed through)."""

    cardId: str
    cardName: str
    cardPosition: int
    viewTimeSeconds: float
    viewersPercent: float


class CardAnalytics(TypedDict):
    """Answer of ``GET /v1.0/gammas/{gammaId}/analytics/cards``: every card, ordered by position, zeroed
    when unseen. The list's key ``cards`` is a third-party client's (also read from ``data``)."""

    gammaId: str
    cards: list[CardStats]
    scope: NotRequired[str]
    uniqueViewers: NotRequired[float]
    uniqueEditors: NotRequired[float]
    cardCount: NotRequired[float]


class ViewerPage(TypedDict):
    """One page of ``GET /v1.0/gammas/{gammaId}/analytics/viewers`` (at most 500 viewers in all).

    Rows in ``data`` (also read from ``viewers``) carry ``viewerId``, ``displayName``, ``email``,
    ``lastOpened``, ``cardsViewed`` per a third-party client (``viewerId`` is also read from ``userId``);
    they are passed through. ``nextCursor`` is ``None`` on the last page.
    """

    gammaId: str
    data: list[dict[str, Any]]
    hasMore: bool
    nextCursor: str | None
    scope: NotRequired[str]


class Template(TypedDict):
    """One template of ``GET /v1.0/templates/search``; ``previewUrl``/``thumbnailUrl`` passed through."""

    id: str
    title: NotRequired[str]
    url: NotRequired[str]
    previewUrl: NotRequired[str]
    thumbnailUrl: NotRequired[str]


class TemplateSearch(TypedDict):
    """Answer of ``GET /v1.0/templates/search``: two lists, at most ``limit`` each, no cursor.

    ``workspaceTemplates`` ids may be a from-template generation's ``gammaId``; ``exploreTemplates``
    (Gamma's official ones) may not. ``workspaceDegraded``: the workspace list fell back to
    last-edited order. Field names from a third-party client and Gamma's n8n node.
    """

    workspaceTemplates: list[Template]
    exploreTemplates: list[Template]
    workspaceDegraded: NotRequired[bool]
