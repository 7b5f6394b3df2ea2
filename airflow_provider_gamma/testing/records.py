# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What the Gamma emulator keeps: its settings, the requests it received, generations and export jobs
(:class:`~airflow_provider_gamma.testing.state.EmulatorState` holds and changes them)."""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EditState",
    "EmulatorConfig",
    "ExportJob",
    "GenerationState",
    "GenerationStatus",
    "RecordedRequest",
    "UploadRecord",
]

GenerationStatus = Literal["pending", "completed", "failed"]


@dataclass
class EmulatorConfig:
    """Settings of one emulator instance (see :class:`GammaEmulator` for their meaning)."""

    api_key: str = "sk-gamma-test"
    generation_seconds: float = 1.0
    export_url_ttl: float = 7 * 24 * 3600.0
    credits_per_card: int = 2
    max_cards: int = 60
    reject_unknown_fields: bool = True
    burst_limit: int = 10_000
    burst_window_seconds: float = 60.0
    hourly_limit: int = 40_000
    daily_limit: int = 200_000
    rate_limit_retry_after: bool = True
    export_padding_bytes: int = 0
    record_requests: bool = True
    search_enabled: bool = True
    searchable_while_pending: bool = False
    export_seconds: float = 0.5
    edit_seconds: float = 1.0
    credits_per_edit: int = 10
    analytics_access: Literal["manage", "edit", "none"] = "manage"


@dataclass
class RecordedRequest:
    """One request that reached an emulator host.

    Attributes:
        host: ``"api"`` or ``"export"``.
        method: HTTP method, upper case.
        path: URL path without the query string.
        query: Query parameters (last value wins for repeated names).
        headers: Request headers with lower-cased names.
        json: Parsed JSON body, or ``None`` if the body was empty or not JSON.
        body: The raw request body.
        status: Response status sent; ``None`` if the connection was dropped (or not answered yet).
        request_id: The ``x-request-id`` sent back (API host only).
        time: Wall-clock time (``time.time()``) the request arrived.
        fault: The fault rule applied to this request, if any.
    """

    host: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes = b""
    status: int | None = None
    request_id: str | None = None
    time: float = field(default_factory=time.time)
    fault: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``body`` as text), used by the control API."""
        data = dataclasses.asdict(self)
        data["body"] = self.body.decode("utf-8", errors="replace")
        return data


@dataclass
class GenerationState:
    """State of one generation job.

    Attributes:
        generation_id: The id returned by the POST.
        kind: ``"generate"`` (``POST /v1.0/generations``), ``"template"`` (``from-template``) or
            ``"agent"`` (``POST /v1.0/agent/generations``, ids ``gen_...``).
        status: ``"pending"``, ``"completed"`` or ``"failed"``.
        input: The ``inputText`` (or the template ``prompt``).
        request: The full JSON body that was posted.
        format: Output format (``presentation`` for template generations).
        export_as: ``pdf``, ``pptx``, ``png`` or ``None``.
        dimensions: Card dimensions used for the export.
        num_cards: Number of cards the gamma gets.
        title: Deck title (shown in the export files).
        gamma_id: File id (``g_...``) of the gamma; reported once completed.
        gamma_url: ``https://gamma.app/docs/...`` URL; reported once completed.
        created_at: Wall-clock creation time (``time.time()``).
        ready_at: Monotonic time (``time.monotonic()``) at which the job finishes.
        cost: Credits the job deducts when it completes.
        credits_deducted: Credits actually deducted (set when finished).
        error: ``{"message", "statusCode"}`` when failed.
        warnings: The ``warnings`` string returned by the POST, if any.
        template_gamma_id: Template ``gammaId`` for template generations.
        archived: Whether the gamma was archived.
        deleted: Whether the gamma was deleted.
        completed_at: Wall-clock time the job finished (``None`` while pending).
        exports: Formats the gamma was exported to (its ``exportAs`` and later exports).
        planned_failure: ``(message, statusCode)`` the job is to fail with when it finishes.
        duration: Seconds from the POST until the job finishes.
        started: Monotonic time of the POST (``created_at`` on the monotonic clock).
        edits: The agent edits of this gamma, oldest first; each completed one is a new revision.
    """

    generation_id: str
    kind: Literal["generate", "template", "agent"]
    status: GenerationStatus
    input: str
    request: dict[str, Any]
    format: str
    export_as: str | None
    dimensions: str
    num_cards: int
    title: str
    gamma_id: str
    gamma_url: str
    created_at: float
    ready_at: float
    cost: int
    credits_deducted: int | None = None
    error: dict[str, Any] | None = None
    warnings: str | None = None
    template_gamma_id: str | None = None
    archived: bool = False
    deleted: bool = False
    completed_at: float | None = None
    exports: set[str] = field(default_factory=set)
    planned_failure: tuple[str, int] | None = None
    duration: float = 0.0
    started: float = 0.0
    edits: list[EditState] = field(default_factory=list)

    def revision(self, now: float) -> int:
        """How many edits of this gamma have completed by monotonic ``now`` (0: as generated)."""
        return sum(edit.completes_by(now) for edit in self.edits)

    def edit_notes(self, revision: int) -> list[str]:
        """What the first ``revision`` completed edits asked for, shown in the exports of that revision."""
        done = [edit for edit in self.edits if edit.status != "failed" and edit.planned_failure is None]
        return [f"Edit {n}: {edit.prompt}" for n, edit in enumerate(done[:revision], start=1)]

    def document_exists(self, now: float) -> bool:
        """Whether the gamma's document exists at monotonic ``now``: from half-way through the
        generation (Gamma shows an agent run's ``gamma`` while it is still pending)."""
        return self.status == "completed" or (
            self.status == "pending" and (self.duration <= 0 or self.done(now) >= 0.5)
        )

    def done(self, now: float) -> float:
        """How far the generation is at monotonic ``now``, 0.0 to 1.0."""
        if self.status != "pending" or self.duration <= 0:
            return 1.0
        return min(1.0, max(0.0, 1.0 - (self.ready_at - now) / self.duration))

    def cards_written(self, now: float) -> int:
        """Cards the document holds at monotonic ``now``: none until it exists (half-way), then
        written one by one over the second half, as Gamma writes a deck card by card."""
        if self.status == "completed":
            return self.num_cards
        if not self.document_exists(now):
            return 0
        return min(self.num_cards, int(self.num_cards * (self.done(now) - 0.5) * 2))

    def wall_time(self, moment: float) -> float:
        """The wall-clock time of monotonic ``moment`` in this job's life."""
        return self.created_at + (moment - self.started)

    def updated_time(self, now: float) -> float:
        """The gamma's ``updatedTime`` (wall clock) at monotonic ``now``: while pending, when the
        document appeared or its latest card was written, so it moves forward card by card and stops
        when the generation ends (the last card); before the document exists, the POST's time."""
        if self.completed_at is not None:
            written = self.completed_at
        elif self.duration <= 0 or not self.document_exists(now):
            written = self.created_at
        else:
            done = self.cards_written(now) / max(1, self.num_cards)
            written = self.created_at + self.duration * (0.5 + done / 2)
        return max([written, *(edit.updated_time(now) or written for edit in self.edits)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, used by the control API (``edits`` as their ids, ``revision`` now)."""
        data = dataclasses.asdict(self)
        data.pop("planned_failure")
        data["request"] = copy.deepcopy(self.request)
        data["exports"] = sorted(self.exports)
        data["edits"] = [edit.edit_id for edit in self.edits]
        data["revision"] = self.revision(time.monotonic())
        return data


@dataclass
class ExportJob:
    """One ``POST /v1.0/gammas/{id}/export`` job; ``failure`` is ``(message, reason)`` when it is
    to end as failed."""

    export_id: str
    gamma_id: str
    export_as: str
    ready_at: float
    failure: tuple[str, str] | None = None
    #: The gamma's revision when the export was asked for: the file shows the gamma as it was then.
    revision: int = 0


@dataclass
class UploadRecord:
    """One file received by ``POST /v1.0/uploads``, hashed as it streamed in (the bytes are not kept).

    Attributes:
        upload_id: The id answered (what the agent's ``files`` name).
        filename: The name the client gave (query ``filename``, ``X-File-Name`` or
            ``Content-Disposition``), else ``upload.bin``.
        size: Bytes received.
        sha256: Hex SHA-256 of the bytes received, to compare with the file sent.
        content_type: The request's ``Content-Type``.
        head: The first 4 KiB, for a test to read a small file's content.
        created_at: Wall-clock time the upload ended.
        attached_to: The generation or edit id it was attached to (an upload attaches once), or ``None``.
    """

    upload_id: str
    filename: str
    size: int
    sha256: str
    content_type: str
    head: bytes = b""
    created_at: float = field(default_factory=time.time)
    attached_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``head`` as text), used by the control API."""
        data = dataclasses.asdict(self)
        data["head"] = self.head.decode("utf-8", errors="replace")
        return data


@dataclass
class EditState:
    """One agent edit (``POST /v1.0/agent/gammas/{gammaId}/edits``).

    Attributes:
        edit_id: The id answered by the POST.
        gamma_id: The gamma edited (its canonical file id).
        prompt: The edit's ``prompt``.
        request: The full JSON body posted.
        status: ``"pending"``, ``"completed"`` or ``"failed"``.
        created_at: Wall-clock time of the POST.
        started: Monotonic time of the POST.
        ready_at: Monotonic time the edit ends.
        duration: Seconds from the POST until it ends.
        cost: Credits deducted when it completes.
        files: Upload ids attached.
        credits_deducted: Credits actually deducted (set when it ends).
        error: ``{"message", "statusCode"}`` when failed.
        completed_at: Wall-clock time it ended (``None`` while pending).
        planned_failure: ``(message, statusCode)`` it is to fail with when it ends.
    """

    edit_id: str
    gamma_id: str
    prompt: str
    request: dict[str, Any]
    status: GenerationStatus
    created_at: float
    started: float
    ready_at: float
    duration: float
    cost: int
    files: list[str] = field(default_factory=list)
    credits_deducted: int | None = None
    error: dict[str, Any] | None = None
    completed_at: float | None = None
    planned_failure: tuple[str, int] | None = None

    def completes_by(self, now: float) -> bool:
        """Whether the edit has completed (or will have, once settled) by monotonic ``now``."""
        if self.status != "pending":
            return self.status == "completed"
        return self.planned_failure is None and self.ready_at <= now

    def updated_time(self, now: float) -> float | None:
        """When this edit last wrote to its gamma (wall clock), as of monotonic ``now``: from half-way
        it writes (in steps of a tenth of its time) until it completes; a failed edit writes nothing
        (a simplification: Gamma does not say what a failed edit leaves)."""
        if self.status == "failed" or (self.status == "pending" and self.planned_failure is not None):
            return None
        end = self.started + self.duration
        if self.status == "completed" or now >= end:
            return self.completed_at if self.completed_at is not None else self.created_at + self.duration
        done = 0.0 if self.duration <= 0 else (now - self.started) / self.duration
        if done < 0.5:
            return None
        return self.created_at + self.duration * (int(done * 10) / 10)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, used by the control API."""
        data = dataclasses.asdict(self)
        data.pop("planned_failure")
        data["request"] = copy.deepcopy(self.request)
        return data
