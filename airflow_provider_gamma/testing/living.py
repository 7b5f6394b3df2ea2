# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The emulator's routes for keeping one deck current (gamma-api.md §18b): uploads, agent edits,
a gamma's analytics (totals, cards, viewers) and the template search.

Like ``gamma_api.py`` each handler answers as Gamma does once a request is past the API key and the
rate limit; the state lives in ``uploads.py``, ``edits.py`` and ``analytics.py``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from airflow_provider_gamma.testing.analytics import Analytics, CursorError, search_templates
from airflow_provider_gamma.testing.answers import gamma_error, json_response, parse_json
from airflow_provider_gamma.testing.edits import (
    EDIT_IN_PROGRESS,
    EditInProgressError,
    Edits,
    edit_body_problems,
)
from airflow_provider_gamma.testing.records import GenerationState
from airflow_provider_gamma.testing.state import EmulatorState, InsufficientCreditsError

__all__ = ["LivingApi"]

_FORBIDDEN = "Access denied - edit permission required"


def _input_errors(errors: list[str]) -> web.Response:
    return gamma_error(
        400, "Input validation errors: " + " ".join(f"{i}. {e}" for i, e in enumerate(errors, 1))
    )


def _number(query: dict[str, str], name: str, default: int, low: int, high: int, errors: list[str]) -> int:
    if name not in query:
        return default
    value = query[name]
    if not value.isdigit() or not low <= int(value) <= high:
        errors.append(f"{name} must be an integer from {low} to {high}")
        return default
    return int(value)


class LivingApi:
    """The handlers of the living-deck endpoints.

    Args:
        state: Gammas, credits, uploads and the lock.
        edits: The agent edits.
        analytics: The gammas' analytics.
    """

    def __init__(self, state: EmulatorState, edits: Edits, analytics: Analytics) -> None:
        self.state = state
        self.edits = edits
        self.analytics = analytics

    def routes(self) -> list[web.RouteDef]:
        """The endpoints (a ``GET`` route answers ``HEAD`` too)."""
        return [
            web.post("/v1.0/uploads", self.state.uploads.receive),
            web.post("/v1.0/agent/gammas/{id:[^/]+}/edits", self.create_edit),
            web.get("/v1.0/agent/edits/{id:[^/]+}", self.get_edit),
            web.get("/v1.0/gammas/{id:[^/]+}/analytics", self.gamma_analytics),
            web.get("/v1.0/gammas/{id:[^/]+}/analytics/cards", self.card_analytics),
            web.get("/v1.0/gammas/{id:[^/]+}/analytics/viewers", self.viewer_analytics),
            web.get("/v1.0/templates/search", self.search_templates),
        ]

    def _gamma(self, gamma_id: str) -> GenerationState | None:
        gamma = self.state.gamma(gamma_id)
        return None if gamma is None or gamma.deleted else gamma

    # -------------------------------------------------------------------------------- edits

    async def create_edit(self, request: web.Request) -> web.Response:
        """``POST /v1.0/agent/gammas/{id}/edits``: 202 with the ``editId``, or the refusal of a second
        edit while one runs (409)."""
        gamma_id = request.match_info["id"]
        body: Any = parse_json(await request.read())
        errors = edit_body_problems(body, reject_unknown=self.state.config.reject_unknown_fields)
        if errors:
            return _input_errors(errors)
        with self.state.lock:
            gamma = self._gamma(gamma_id)
            if gamma is None:
                return gamma_error(404, f"Gamma not found. gammaId: {gamma_id}")
            problems = self.state.uploads.problems(body.get("files"))
            if problems:
                return _input_errors(problems)
            try:
                edit = self.edits.start(gamma, body)
            except EditInProgressError:
                return gamma_error(409, EDIT_IN_PROGRESS)
            except InsufficientCreditsError:
                return gamma_error(403, "Insufficient credits remaining")
            edit.files = self.state.uploads.attach(body.get("files"), edit.edit_id)
        return json_response(202, {"editId": edit.edit_id})

    async def get_edit(self, request: web.Request) -> web.Response:
        """``GET /v1.0/agent/edits/{id}``."""
        edit_id = request.match_info["id"]
        with self.state.lock:
            edit = self.edits.get(edit_id)
            if edit is None:
                return gamma_error(404, f"Edit not found. editId: {edit_id}")
            return json_response(200, self.edits.payload(edit, self.state.gamma(edit.gamma_id)))

    # ---------------------------------------------------------------------------- analytics

    def _analytics_gamma(
        self, request: web.Request
    ) -> tuple[GenerationState | None, str, web.Response | None]:
        """The gamma and the scope the key sees, or the refusal (403 without edit permission)."""
        access = self.state.config.analytics_access
        gamma_id = request.match_info["id"]
        gamma = self._gamma(gamma_id)
        if gamma is None:
            return None, "", gamma_error(404, f"Gamma not found. gammaId: {gamma_id}")
        if access == "none":
            return None, "", gamma_error(403, _FORBIDDEN)
        return gamma, "all" if access == "manage" else "self", None

    async def gamma_analytics(self, request: web.Request) -> web.Response:
        """``GET /v1.0/gammas/{id}/analytics``."""
        gamma, scope, refused = self._analytics_gamma(request)
        if gamma is None:
            assert refused is not None
            return refused
        return json_response(200, self.analytics.totals(gamma, scope))

    async def card_analytics(self, request: web.Request) -> web.Response:
        """``GET /v1.0/gammas/{id}/analytics/cards``."""
        gamma, scope, refused = self._analytics_gamma(request)
        if gamma is None:
            assert refused is not None
            return refused
        return json_response(200, self.analytics.cards(gamma, scope))

    async def viewer_analytics(self, request: web.Request) -> web.Response:
        """``GET /v1.0/gammas/{id}/analytics/viewers``: ``limit`` 1-50 (default 25), ``after``,
        ``sortDirection`` (default ``desc``)."""
        gamma, scope, refused = self._analytics_gamma(request)
        if gamma is None:
            assert refused is not None
            return refused
        query, errors = dict(request.query), list[str]()
        limit = _number(query, "limit", 25, 1, 50, errors)
        direction = query.get("sortDirection", "desc")
        if direction not in ("asc", "desc"):
            errors.append("sortDirection must be one of: asc, desc")
        if errors:
            return _input_errors(errors)
        try:
            page = self.analytics.viewer_page(
                gamma, scope, limit=limit, after=query.get("after") or None, ascending=direction == "asc"
            )
        except CursorError:
            return _input_errors(["after must be a valid cursor"])
        return json_response(200, page)

    # ---------------------------------------------------------------------------- templates

    async def search_templates(self, request: web.Request) -> web.Response:
        """``GET /v1.0/templates/search``: ``q`` optional, ``limit`` 1-25 per list (default 25)."""
        query, errors = dict(request.query), list[str]()
        limit = _number(query, "limit", 25, 1, 25, errors)
        if errors:
            return _input_errors(errors)
        return json_response(200, search_templates(query.get("q", "").strip(), limit))
