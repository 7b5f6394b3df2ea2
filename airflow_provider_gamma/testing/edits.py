# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Agent edits in the emulator: ``POST /v1.0/agent/gammas/{gammaId}/edits`` and
``GET /v1.0/agent/edits/{editId}``, with real state.

As Gamma documents: one edit per gamma at a time, billed on completion, ``editId`` to poll, the
status with a top-level ``gammaId``, ``result.summary`` when completed, ``error`` when failed and
``credits`` on both. An edit runs like an agent generation (pending for ``edit_seconds``); from
half-way it writes, moving the gamma's ``updatedTime``, and on completion it is a new revision of the
gamma, which exports made afterwards show. Chosen here where Gamma publishes nothing: the refusal of a
second edit (409, ``An edit is already in progress for this gamma...``), the POST's 202, the URL's key
(``gammaUrl``), ``progress`` keys, a failed edit changing nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import secrets
import string
import time
from collections import deque
from typing import Any, Final

from airflow_provider_gamma.testing.answers import Json
from airflow_provider_gamma.testing.faults import FaultRule
from airflow_provider_gamma.testing.records import EditState, GenerationState
from airflow_provider_gamma.testing.state import EmulatorState, InsufficientCreditsError

__all__ = [
    "DEFAULT_EDIT_FAILURE",
    "EDIT_FIELDS",
    "EDIT_IN_PROGRESS",
    "EditInProgressError",
    "Edits",
    "edit_body_problems",
    "lost_edit_answer",
]

#: The keys an edit's body takes: ``prompt`` and ``files`` (Gamma's pages), ``quality`` and
#: ``disableConnectors`` (Gamma's n8n node); ``additionalInstructions`` and ``exportAs`` are a guess
#: (the agent generation's, unconfirmed for edits).
EDIT_FIELDS: Final = ("prompt", "files", "quality", "disableConnectors", "additionalInstructions", "exportAs")
EDIT_IN_PROGRESS: Final = (
    "An edit is already in progress for this gamma. Only one edit can run on a gamma at a time; "
    "wait for it to finish."
)
DEFAULT_EDIT_FAILURE: Final = "An error occurred while editing the gamma."
_ALPHABET = string.ascii_letters + string.digits
#: Where every edit POST goes (``/v1.0/agent/gammas/{gammaId}/edits``), for fault rules.
EDITS_PREFIX: Final = "/v1.0/agent/gammas/"


def lost_edit_answer(status: int | None = None, times: int = 1) -> FaultRule:
    """A fault rule for the next edit POST: the edit really starts (and will be billed), then its
    answer is lost: the connection dropped (``status=None``) or an error ``status`` sent instead."""
    return FaultRule(
        method="POST",
        path_prefix=EDITS_PREFIX,
        status=status,
        drop=status is None,
        created=True,
        times=times,
    )


class EditInProgressError(Exception):
    """Raised by :meth:`Edits.start` when the gamma has an edit still running."""


class Edits:
    """The agent edits of one emulator.

    Args:
        state: The gammas, credits and the lock (shared).
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._edits: dict[str, EditState] = {}
        self._due: list[tuple[float, str]] = []
        self._fail_next: deque[tuple[str, int]] = deque()
        state.on_settle(self._settle)

    def fail_next(self, message: str, status_code: int, count: int) -> None:
        """Make the next ``count`` edits started end as failed."""
        with self.state.lock:
            self._fail_next.extend([(message, status_code)] * count)

    def start(self, gamma: GenerationState, body: Json) -> EditState:
        """Start an edit of ``gamma`` (the caller checked the body and attaches its files).

        Raises:
            EditInProgressError: an edit of this gamma is still running.
            InsufficientCreditsError: the credits cannot cover an edit.
        """
        config = self.state.config
        with self.state.lock:
            now = time.monotonic()
            self.state.settle(now)
            if any(edit.status == "pending" for edit in gamma.edits):
                raise EditInProgressError(gamma.gamma_id)
            if self.state.credits < config.credits_per_edit:
                raise InsufficientCreditsError
            edit = EditState(
                edit_id="".join(secrets.choice(_ALPHABET) for _ in range(16)),
                gamma_id=gamma.gamma_id,
                prompt=str(body["prompt"]),
                request=copy.deepcopy(body),
                status="pending",
                created_at=time.time(),
                started=now,
                ready_at=now + config.edit_seconds,
                duration=config.edit_seconds,
                cost=config.credits_per_edit,
                planned_failure=self._fail_next.popleft() if self._fail_next else None,
            )
            gamma.edits.append(edit)
            self._edits[edit.edit_id] = edit
            heapq.heappush(self._due, (edit.ready_at, edit.edit_id))
            if edit.duration <= 0:
                self._settle(now)
            return edit

    def _finish(self, edit: EditState) -> None:
        edit.completed_at = edit.created_at + (edit.ready_at - edit.started)
        if edit.planned_failure is not None:
            message, status_code = edit.planned_failure
            edit.status, edit.error, edit.credits_deducted = (
                "failed",
                {"message": message, "statusCode": status_code},
                0,
            )
        else:
            edit.status, edit.credits_deducted = "completed", edit.cost
            self.state.deduct(edit.cost)

    def _settle(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            _, edit_id = heapq.heappop(self._due)
            edit = self._edits.get(edit_id)
            if edit is not None and edit.status == "pending" and edit.ready_at <= now:
                self._finish(edit)

    def get(self, edit_id: str) -> EditState | None:
        """One edit (settled first), or ``None``."""
        with self.state.lock:
            self.state.settle()
            return self._edits.get(edit_id)

    def finish_now(self, edit_id: str, failure: tuple[str, int] | None = None) -> EditState:
        """End a pending edit at once, completed or (with ``failure``) failed.

        Raises:
            KeyError: unknown edit. ValueError: it already ended.
        """
        with self.state.lock:
            edit = self.get(edit_id)
            if edit is None:
                raise KeyError(edit_id)
            if edit.status != "pending":
                raise ValueError(f"edit {edit_id} is already {edit.status}")
            edit.planned_failure = failure
            edit.ready_at = time.monotonic()
            edit.duration = edit.ready_at - edit.started
            self._finish(edit)
            return edit

    def snapshot(self) -> dict[str, EditState]:
        """Copies of every edit made, keyed by id, oldest first."""
        with self.state.lock:
            self.state.settle()
            return {
                key: dataclasses.replace(edit, request=copy.deepcopy(edit.request))
                for key, edit in self._edits.items()
            }

    def reset(self) -> None:
        with self.state.lock:
            self._edits.clear()
            self._due.clear()
            self._fail_next.clear()

    def payload(self, edit: EditState, gamma: GenerationState | None) -> Json:
        """``GET /v1.0/agent/edits/{editId}``'s answer for ``edit``."""
        payload: Json = {"editId": edit.edit_id, "status": edit.status, "gammaId": edit.gamma_id}
        if edit.status == "pending":
            now = time.monotonic()
            done = 1.0 if edit.duration <= 0 else min(1.0, max(0.0, (now - edit.started) / edit.duration))
            payload["progress"] = {"percentComplete": round(done * 100)}
            return payload
        if gamma is not None:
            payload["gammaUrl"] = gamma.gamma_url
        if edit.status == "completed":
            payload["result"] = {"summary": f"Edited the gamma as asked: {edit.prompt[:120]}"}
            export_as = edit.request.get("exportAs")
            if gamma is not None and isinstance(export_as, str):
                so_far = gamma.edits[: gamma.edits.index(edit) + 1]
                revision = sum(earlier.status == "completed" for earlier in so_far)
                gamma.exports.add(export_as)
                payload["exportUrl"] = self.state.export_url(gamma, export_as=export_as, revision=revision)
        else:
            payload["error"] = dict(edit.error or {"message": DEFAULT_EDIT_FAILURE, "statusCode": 500})
        payload["credits"] = {"deducted": edit.credits_deducted or 0, "remaining": self.state.credits}
        return payload


def edit_body_problems(body: Any, *, reject_unknown: bool) -> list[str]:
    """What is wrong with an edit's body, as Gamma's agent DTO says it (unknown keys and nulls refused)."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    errors = [f"{key} should not be null" for key, value in body.items() if value is None]
    if reject_unknown:
        errors += [f"property {key} should not exist" for key in body if key not in EDIT_FIELDS]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        errors.append("prompt should not be empty")
    if "quality" in body and body["quality"] not in ("lite", "standard", "max"):
        errors.append("quality must be one of: lite, standard, max")
    if "disableConnectors" in body and not isinstance(body["disableConnectors"], bool):
        errors.append("disableConnectors must be a boolean value")
    if "additionalInstructions" in body and not (
        isinstance(body["additionalInstructions"], str) and len(body["additionalInstructions"]) <= 5000
    ):
        errors.append("additionalInstructions must be shorter than or equal to 5000 characters")
    if "exportAs" in body and body["exportAs"] not in ("pdf", "pptx", "png"):
        errors.append("exportAs must be one of: pdf, pptx, png")
    return errors
