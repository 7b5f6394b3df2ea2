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
