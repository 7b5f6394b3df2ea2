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
