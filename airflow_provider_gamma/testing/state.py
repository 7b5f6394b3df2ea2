# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""In-memory state of the Gamma emulator: generations, gammas, credits, recorded requests (the
records themselves are in ``records.py``).

All methods are thread-safe: the servers call them from their event-loop thread and tests call
them from the main thread. Every operation is O(1) or amortised O(log n).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import heapq
import hmac
import re
import secrets
import string
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlencode

from airflow_provider_gamma.testing.exports import FILE_EXTENSIONS, build_export
from airflow_provider_gamma.testing.records import EmulatorConfig, ExportJob, GenerationState, RecordedRequest
from airflow_provider_gamma.testing.uploads import Uploads

__all__ = [
    "FAIL_MARKER",
    "EmulatorConfig",
    "EmulatorState",
    "GenerationState",
    "InsufficientCreditsError",
    "RecordedRequest",
]

#: Put this in ``inputText`` / ``prompt`` to make the generation end with ``status: "failed"``.
FAIL_MARKER = "[[emulator:fail]]"
# ``[[emulator:seconds=2.5]]`` overrides ``generation_seconds`` for one generation.
_SECONDS_MARKER = re.compile(r"\[\[emulator:seconds=(\d+(?:\.\d+)?)\]\]")
_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_FAILURE_MESSAGE = "An error occurred while generating the gamma."


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class InsufficientCreditsError(Exception):
    """Raised by :meth:`EmulatorState.create_generation` when credits do not cover the job."""


def _title_from(text: str) -> str:
    for line in text.splitlines():
        cleaned = _SECONDS_MARKER.sub("", line.replace(FAIL_MARKER, "")).strip().lstrip("#").strip()
        if cleaned:
            return cleaned[:80]
    return "Untitled"


def _slug(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)[:8]
    return "-".join(words) or "Untitled"


class EmulatorState:
    """All mutable emulator state, guarded by one lock.

    Args:
        config: The emulator settings (read live, so changes apply to new generations).
        credits: Starting credit balance.
        export_base_url: Base URL of the export host (for signed URLs); set once servers run.
    """

    def __init__(self, config: EmulatorConfig, credits: int, export_base_url: str = "") -> None:
        self.config = config
        self.export_base_url = export_base_url
        self._lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self._credits = credits
        self._generations: dict[str, GenerationState] = {}
        self._by_gamma: dict[str, GenerationState] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._fail_next: deque[tuple[str, int]] = deque()
        self._fail_next_export: deque[tuple[str, str]] = deque()
        self._export_cache: dict[str, bytes] = {}
        self._export_jobs: dict[str, ExportJob] = {}
        self._requests: list[RecordedRequest] = []
        self._export_requests: list[RecordedRequest] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._settle_hooks: list[Callable[[float], None]] = []
        #: Files received by ``POST /v1.0/uploads``.
        self.uploads = Uploads(self._lock)

    @property
    def lock(self) -> threading.RLock:
        """The one lock of all emulator state (the living-deck state shares it)."""
        return self._lock

    def on_settle(self, hook: Callable[[float], None]) -> None:
        """Run ``hook(now)`` whenever due jobs are settled (under the lock), e.g. to finish edits."""
        self._settle_hooks.append(hook)

    def deduct(self, amount: int) -> None:
        """Take ``amount`` credits (never below 0), without settling first; call with the lock held."""
        self._credits = max(0, self._credits - amount)

    # ------------------------------------------------------------------------------- requests

    def record(self, request: RecordedRequest) -> None:
        """Store a request (counted even when ``record_requests`` is off)."""
        with self._lock:
            if request.host == "api":
                self._counts[(request.method, request.path)] += 1
            if not self.config.record_requests:
                return
            (self._requests if request.host == "api" else self._export_requests).append(request)

    def requests(self, host: str = "api") -> list[RecordedRequest]:
        """Recorded requests for ``host``, oldest first (a copy of the list)."""
        with self._lock:
            return list(self._requests if host == "api" else self._export_requests)

    def count(self, method: str, path: str) -> int:
        """Number of API requests with ``method`` that reached exactly ``path``."""
        with self._lock:
            return self._counts[(method.upper(), path)]

    # -------------------------------------------------------------------------------- credits

    @property
    def credits(self) -> int:
        """Remaining credit balance (after settling finished jobs)."""
        with self._lock:
            self.settle()
            return self._credits

    @credits.setter
    def credits(self, value: int) -> None:
        with self._lock:
            self.settle()
            self._credits = int(value)

    # ---------------------------------------------------------------------------- generations

    def fail_next(self, message: str, status_code: int, count: int) -> None:
        """Make the next ``count`` created generations fail with ``message``."""
        with self._lock:
            self._fail_next.extend([(message, status_code)] * count)

    def create_generation(
        self,
        *,
        kind: Literal["generate", "template", "agent"],
        body: dict[str, Any],
        text: str,
        fmt: str,
        dimensions: str,
        num_cards: int,
        warnings: list[str],
        template_gamma_id: str | None = None,
    ) -> GenerationState:
        """Start a job; raises :class:`InsufficientCreditsError` when credits cannot cover it."""
        cost = num_cards * self.config.credits_per_card
        now = time.monotonic()
        seconds = self.config.generation_seconds
        marker = _SECONDS_MARKER.search(text)
        if marker:
            seconds = float(marker.group(1))
        with self._lock:
            self.settle(now)
            if self._credits < cost:
                raise InsufficientCreditsError
            planned: tuple[str, int] | None = None
            if self._fail_next:
                planned = self._fail_next.popleft()
            elif FAIL_MARKER in text:
                planned = (DEFAULT_FAILURE_MESSAGE, 500)
            title = body.get("title") or _title_from(text)
            gamma_id = "g_" + _random_id(15)
            generation = GenerationState(
                generation_id=("gen_" + _random_id(16)) if kind == "agent" else _random_id(20),
                kind=kind,
                status="pending",
                input=text,
                request=copy.deepcopy(body),
                format=fmt,
                export_as=body.get("exportAs"),
                dimensions=dimensions,
                num_cards=num_cards,
                title=title,
                gamma_id=gamma_id,
                gamma_url=f"https://gamma.app/docs/{_slug(title)}-{gamma_id[2:]}",
                created_at=time.time(),
                ready_at=now + seconds,
                cost=cost,
                warnings=" ".join(warnings) or None,
                template_gamma_id=template_gamma_id,
                planned_failure=planned,
                duration=seconds,
                started=now,
            )
            self._generations[generation.generation_id] = generation
            self._by_gamma[gamma_id] = generation
            self._seq += 1
            heapq.heappush(self._due, (generation.ready_at, self._seq, generation.generation_id))
            return generation

    def _finish(self, generation: GenerationState) -> None:
        # When it was due, not when settled: settling is lazy, and updatedTime must not move after.
        generation.completed_at = generation.wall_time(generation.ready_at)
        if generation.export_as:
            generation.exports.add(generation.export_as)
        if generation.planned_failure is not None:
            message, status_code = generation.planned_failure
            generation.status = "failed"
            generation.error = {"message": message, "statusCode": status_code}
            generation.credits_deducted = 0
        else:
            generation.status = "completed"
            generation.credits_deducted = generation.cost
            self._credits = max(0, self._credits - generation.cost)

    def settle(self, now: float | None = None) -> None:
        """Finish every pending job whose time has come (amortised O(log n))."""
        now = time.monotonic() if now is None else now
        with self._lock:
            due = self._due
            while due and due[0][0] <= now:
                _, _, generation_id = heapq.heappop(due)
                generation = self._generations.get(generation_id)
                if generation is not None and generation.status == "pending" and generation.ready_at <= now:
                    self._finish(generation)
            for hook in self._settle_hooks:
                hook(now)

    def get(self, generation_id: str) -> GenerationState | None:
        """The live state of one generation (settled first), or ``None``."""
        with self._lock:
            self.settle()
            return self._generations.get(generation_id)

    def snapshot(self) -> dict[str, GenerationState]:
        """Copies of all generations, keyed by id."""
        with self._lock:
            self.settle()
            return {
                key: dataclasses.replace(g, request=copy.deepcopy(g.request), exports=set(g.exports))
                for key, g in self._generations.items()
            }

    def finish_now(self, generation_id: str, failure: tuple[str, int] | None = None) -> None:
        """Finish a pending job at once, successfully or (with ``failure``) as failed."""
        with self._lock:
            self.settle()
            generation = self._generations.get(generation_id)
            if generation is None:
                raise KeyError(generation_id)
            if generation.status != "pending":
                raise ValueError(f"generation {generation_id} is already {generation.status}")
            if failure is not None:
                generation.planned_failure = failure
            generation.ready_at = time.monotonic()
            self._finish(generation)

    def plan_failure(self, generation_id: str, failure: tuple[str, int]) -> None:
        """Make a pending job fail when its time comes."""
        with self._lock:
            self.settle()
            generation = self._generations.get(generation_id)
            if generation is None:
                raise KeyError(generation_id)
            if generation.status != "pending":
                raise ValueError(f"generation {generation_id} is already {generation.status}")
            generation.planned_failure = failure

    # --------------------------------------------------------------------------------- gammas

    def gamma(self, gamma_id: str, *, unfinished: bool = False) -> GenerationState | None:
        """The generation that produced a gamma (deleted ones included: callers check), or ``None``.

        Only a completed generation's gamma, unless ``unfinished``: then also one still being written
        that search shows (``searchable_while_pending``), for ``GET /v1.0/gammas/{id}``. Exporting,
        archiving, deleting or remixing a gamma still being written is undocumented, so those keep
        refusing it as an unknown gamma.
        """
        with self._lock:
            now = time.monotonic()
            self.settle(now)
            generation = self._by_gamma.get(gamma_id)
            if generation is None or not (
                generation.status == "completed" or (unfinished and self._shown_unfinished(generation, now))
            ):
                return None
            return generation

    def _shown_unfinished(self, generation: GenerationState, now: float) -> bool:
        """Whether a pending generation's gamma is shown: with ``searchable_while_pending``, once its
        document exists."""
        return (
            generation.status == "pending"
            and self.config.searchable_while_pending
            and generation.document_exists(now)
        )

    def made_gamma(self, gamma_id: str) -> bool:
        """Whether a generation of this emulator was assigned ``gamma_id`` (in any state)."""
        with self._lock:
            return gamma_id in self._by_gamma

    def archive(self, gamma_id: str) -> bool:
        """Archive a gamma; ``False`` if it does not exist (or was deleted)."""
        with self._lock:
            generation = self.gamma(gamma_id)
            if generation is None or generation.deleted:
                return False
            generation.archived = True
            return True

    def delete(self, gamma_id: str) -> Literal["deleted", "gone", "unknown"]:
        """Delete a gamma: ``"deleted"``, ``"gone"`` (already deleted) or ``"unknown"``."""
        with self._lock:
            generation = self.gamma(gamma_id)
            if generation is None:
                return "unknown"
            if generation.deleted:
                return "gone"
            generation.archived = True
            generation.deleted = True
            return "deleted"

    def search(
        self,
        query: str,
        *,
        mine: bool,
        include_archived: bool,
        updated_after: float | None,
        updated_before: float | None,
        limit: int,
    ) -> list[GenerationState]:
        """Visible gammas whose title (or input) contains ``query`` (every one for an empty query),
        newest update first; none unless ``mine`` (``createdBy`` names this emulator's only user or
        is not given).

        A gamma is found once its generation completed, or with ``searchable_while_pending`` once its
        document exists (half-way): Gamma does not document how soon a new gamma becomes searchable.
        """
        needle = query.casefold()
        now = time.monotonic()
        with self._lock:
            self.settle(now)
            found = [
                g
                for g in self._generations.values()
                if mine
                and (g.status == "completed" or self._shown_unfinished(g, now))
                and not g.deleted
                and (include_archived or not g.archived)
                and (updated_after is None or g.updated_time(now) >= updated_after)
                and (updated_before is None or g.updated_time(now) <= updated_before)
                and (needle in g.title.casefold() or needle in g.input.casefold())
            ]
        found.sort(key=lambda g: g.updated_time(now), reverse=True)
        return found[:limit]

    @staticmethod
    def updated_time(generation: GenerationState, now: float | None = None) -> float:
        """The gamma's ``updatedTime`` (wall clock) at monotonic ``now`` (default: now): it moves
        forward as each card is written and stops when the generation ends."""
        return generation.updated_time(time.monotonic() if now is None else now)

    def fail_next_export(self, message: str, reason: str, count: int) -> None:
        """Make the next ``count`` exports started end as failed with ``message`` and ``reason``."""
        with self._lock:
            self._fail_next_export.extend([(message, reason)] * count)

    def create_export(self, gamma_id: str, export_as: str) -> ExportJob | Literal["unknown", "archived"]:
        """Start exporting a visible gamma; ``"unknown"`` when there is no such gamma, ``"archived"``
        when it is archived (Gamma exports no archived gamma)."""
        with self._lock:
            generation = self.gamma(gamma_id)
            if generation is None or generation.deleted:
                return "unknown"
            if generation.archived:
                return "archived"
            now = time.monotonic()
            job = ExportJob(
                export_id="exp_" + _random_id(16),
                gamma_id=gamma_id,
                export_as=export_as,
                ready_at=now + self.config.export_seconds,
                failure=self._fail_next_export.popleft() if self._fail_next_export else None,
                revision=generation.revision(now),
            )
            self._export_jobs[job.export_id] = job
            return job

    def export_job(self, export_id: str) -> tuple[ExportJob, bool] | None:
        """An export job and whether it is done (the gamma then lists its format in ``exports``)."""
        with self._lock:
            job = self._export_jobs.get(export_id)
            if job is None:
                return None
            done = time.monotonic() >= job.ready_at
            generation = self._by_gamma.get(job.gamma_id)
            if done and generation is not None and job.failure is None:
                generation.exports.add(job.export_as)
            return job, done

    # -------------------------------------------------------------------------------- exports

    def _signature(self, name: str, expires: int) -> str:
        return hmac.new(self._secret, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()

    def export_url(
        self,
        generation: GenerationState,
        ttl: float | None = None,
        export_as: str | None = None,
        revision: int = 0,
    ) -> str | None:
        """Mint a fresh signed export URL of the gamma in ``export_as`` (default: the generation's
        ``exportAs``) as of ``revision`` (a file per revision: ``g_x-r2.pdf``; an edit does not change
        an earlier export's file); ``None`` when there is no such format."""
        export_as = export_as or generation.export_as
        if export_as is None:
            return None
        ttl = self.config.export_url_ttl if ttl is None else ttl
        expires = int(time.time() + ttl)
        suffix = f"-r{revision}" if revision else ""
        name = f"{generation.gamma_id}{suffix}.{FILE_EXTENSIONS[export_as]}"
        query = urlencode({"expires": expires, "signature": self._signature(name, expires)})
        return f"{self.export_base_url}/export/{name}?{query}"

    def check_signature(self, name: str, expires: str | None, signature: str | None) -> str | None:
        """Return ``None`` if the signed URL is valid, otherwise the reason it is not."""
        if not expires or not signature:
            return "Query-string authentication requires the signature and expires parameters"
        try:
            expires_at = int(expires)
        except ValueError:
            return "Invalid expires parameter"
        if not hmac.compare_digest(self._signature(name, expires_at), signature):
            return "The request signature we calculated does not match the signature you provided."
        if time.time() > expires_at:
            return "Request has expired"
        return None

    def export_bytes(
        self, generation: GenerationState, export_as: str | None = None, revision: int | None = None
    ) -> bytes:
        """The (cached, deterministic) export file of a generation's gamma as of ``revision`` (default:
        now, after its completed edits), without padding. Each revision's file differs: it lists the
        edits' prompts (PDF, PPTX) or shifts the colours (PNG)."""
        export_as = export_as or generation.export_as
        if export_as is None:
            raise ValueError(f"generation {generation.generation_id} was created without exportAs")
        with self._lock:
            self.settle()
            revision = generation.revision(time.monotonic()) if revision is None else revision
            notes = generation.edit_notes(revision)
        key = f"{generation.generation_id}.{export_as}.r{revision}"
        with self._lock:
            cached = self._export_cache.get(key)
        if cached is None:
            cached = build_export(
                export_as, generation.title, generation.num_cards, generation.dimensions, notes=notes
            )
            with self._lock:
                self._export_cache[key] = cached
        return cached

    # ---------------------------------------------------------------------------------- reset

    def reset(self) -> None:
        """Forget generations, gammas, uploads and recorded requests (credits are kept)."""
        with self._lock:
            self._generations.clear()
            self._by_gamma.clear()
            self._due.clear()
            self._fail_next.clear()
            self._fail_next_export.clear()
            self._export_cache.clear()
            self._export_jobs.clear()
            self._requests.clear()
            self._export_requests.clear()
            self._counts.clear()
            self.uploads.reset()
