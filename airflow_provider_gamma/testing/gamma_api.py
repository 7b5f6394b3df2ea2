# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma's public endpoints (v1.0) as aiohttp routes over the emulator's state and catalogs.

Each handler answers as Gamma does once a request is past the API key and the rate limit: checking
those, recording requests and injecting faults is the front door's job (``server.py``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final, Literal

from aiohttp import web

from airflow_provider_gamma.testing.answers import Json, gamma_error, json_response, parse_json
from airflow_provider_gamma.testing.catalog import Catalog, CursorError
from airflow_provider_gamma.testing.exports import FILE_EXTENSIONS
from airflow_provider_gamma.testing.state import EmulatorState, GenerationState, InsufficientCreditsError
from airflow_provider_gamma.testing.validation import (
    Validation,
    validate_agent_generation,
    validate_generation,
    validate_template_generation,
)

__all__ = ["GammaApi"]

_SEARCH_LIMIT: Final = 25
_CARD_BREAK: Final = "\n---\n"
#: The workspace's only user, whose key every request carries: ``createdBy=me`` names them.
USER: Final = {"id": "user_emulator", "email": "emulator@example.com", "name": "Emulator User"}
#: The theme of a gamma made without a ``themeId`` (the workspace's default).
DEFAULT_THEME_ID: Final = "standard-light"


def _cards_of(page: Json) -> int:
    if page.get("cardSplit") == "inputTextBreaks":
        return str(page["inputText"]).count(_CARD_BREAK) + 1
    return int(page.get("numCards") or 10)


def _input_errors(errors: list[str]) -> web.Response:
    return gamma_error(
        400, "Input validation errors: " + " ".join(f"{i}. {e}" for i, e in enumerate(errors, 1))
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


async def _body(request: web.Request) -> Any:
    return parse_json(await request.read())


class GammaApi:
    """The handlers of Gamma's endpoints.

    Args:
        state: Generations, gammas, exports and credits.
        themes: Themes served by ``GET /v1.0/themes``.
        folders: Folders served by ``GET /v1.0/folders``.
    """

    def __init__(self, state: EmulatorState, themes: Catalog, folders: Catalog) -> None:
        self.state = state
        self.themes = themes
        self.folders = folders

    def routes(self) -> list[web.RouteDef]:
        """Gamma's endpoints (a ``GET`` route answers ``HEAD`` too)."""
        return [
            web.post("/v1.0/generations", self.create_generation),
            web.post("/v1.0/generations/from-template", self.create_from_template),
            web.get("/v1.0/generations/{id:[^/]+}", self.get_generation),
            web.post("/v1.0/agent/generations", self.create_agent_generation),
            web.get("/v1.0/agent/generations/{id:[^/]+}", self.get_agent_generation),
            web.get("/v1.0/themes", self.list_themes),
            web.get("/v1.0/folders", self.list_folders),
            web.get("/v1.0/gammas/search", self.search_gammas),
            web.get("/v1.0/gammas/{id:[^/]+}", self.get_gamma),
            web.delete("/v1.0/gammas/{id:[^/]+}", self.delete_gamma),
            web.post("/v1.0/gammas/{id:[^/]+}/archive", self.archive_gamma),
            web.post("/v1.0/gammas/{id:[^/]+}/export", self.export_gamma),
            web.get("/v1.0/exports/{id:[^/]+}", self.get_export),
        ]

    # ------------------------------------------------------------------------------ generations

    def _start(
        self,
        body: Json,
        validation: Validation,
        *,
        kind: Literal["generate", "template", "agent"],
        text: str,
        num_cards: int,
        template_gamma_id: str | None = None,
        status: int = 200,
        files: Any = None,
    ) -> web.Response:
        try:
            generation = self.state.create_generation(
                kind=kind,
                body=body,
                text=text,
                fmt=str(body.get("format") or "presentation"),
                dimensions=validation.dimensions,
                num_cards=num_cards,
                warnings=validation.warnings,
                template_gamma_id=template_gamma_id,
            )
        except InsufficientCreditsError:
            return gamma_error(403, "Insufficient credits remaining")
        self.state.uploads.attach(files, generation.generation_id)
        payload: Json = {"generationId": generation.generation_id}
        if generation.warnings:
            payload["warnings"] = generation.warnings
        if validation.page_warnings:
            payload["pageWarnings"] = validation.page_warnings
        return json_response(status, payload)

    async def create_generation(self, request: web.Request) -> web.Response:
        """``POST /v1.0/generations``."""
        body = await _body(request)
        config = self.state.config
        validation = validate_generation(
            body, max_cards=config.max_cards, reject_unknown=config.reject_unknown_fields
        )
        if validation.errors:
            return gamma_error(400, validation.message)
        pages = body.get("pages") or [body]  # a multi-page file: each page's own fields win
        num_cards = sum(_cards_of({**body, **page}) for page in pages)
        text = _CARD_BREAK.join(str(page["inputText"]) for page in pages)
        return self._start(body, validation, kind="generate", text=text, num_cards=num_cards)

    async def create_from_template(self, request: web.Request) -> web.Response:
        """``POST /v1.0/generations/from-template``."""
        body = await _body(request)
        validation = validate_template_generation(
            body, reject_unknown=self.state.config.reject_unknown_fields
        )
        if validation.errors:
            return gamma_error(400, validation.message)
        template_id = str(body["gammaId"])
        if not template_id.startswith("g_"):
            return gamma_error(400, "Invalid request or template not found")
        num_cards = 5
        if self.state.made_gamma(template_id):  # A gamma made by this emulator: reuse its size.
            template = self.state.gamma(template_id)
            if template is None or template.deleted:
                return gamma_error(400, "Invalid request or template not found")
            num_cards = template.num_cards
        return self._start(
            body,
            validation,
            kind="template",
            text=str(body["prompt"]),
            num_cards=num_cards,
            template_gamma_id=template_id,
        )

    async def create_agent_generation(self, request: web.Request) -> web.Response:
        """``POST /v1.0/agent/generations``: 202, as Gamma's own node sees it answer."""
        body = await _body(request)
        validation = validate_agent_generation(body, reject_unknown=self.state.config.reject_unknown_fields)
        if validation.errors:
            return gamma_error(400, validation.message)
        num_cards = int(body.get("numCards") or 8)
        with self.state.lock:  # the files' check, the start and their attachment are one step
            problems = self.state.uploads.problems(body.get("files"))
            if problems:
                return _input_errors(problems)
            return self._start(
                body,
                validation,
                kind="agent",
                text=str(body["prompt"]),
                num_cards=num_cards,
                status=202,
                files=body.get("files"),
            )

    async def get_generation(self, request: web.Request) -> web.Response:
        """``GET /v1.0/generations/{id}``."""
        return self._poll(request.match_info["id"], agent=False)

    async def get_agent_generation(self, request: web.Request) -> web.Response:
        """``GET /v1.0/agent/generations/{id}``."""
        return self._poll(request.match_info["id"], agent=True)

    def _poll(self, generation_id: str, *, agent: bool) -> web.Response:
        generation = self.state.get(generation_id)
        if generation is None or (generation.kind == "agent") != agent:
            return gamma_error(404, f"Generation ID not found. generationId: {generation_id}")
        return json_response(200, self.poll_payload(generation))

    def poll_payload(self, generation: GenerationState) -> Json:
        """The status body for a generation (mints a fresh export URL)."""
        if generation.kind == "agent":
            return self._agent_payload(generation)
        payload: Json = {"generationId": generation.generation_id, "status": generation.status}
        if generation.status == "pending":
            return payload
        if generation.status == "completed":
            payload["gammaId"] = generation.gamma_id
            payload["gammaUrl"] = generation.gamma_url
            export_url = self.state.export_url(generation)
            if export_url is not None:
                payload["exportUrl"] = export_url
        else:
            payload["error"] = dict(generation.error or {})
        payload["credits"] = {"deducted": generation.credits_deducted or 0, "remaining": self.state.credits}
        return payload

    def _agent_payload(self, generation: GenerationState) -> Json:
        """``GET /v1.0/agent/generations/{id}``, as Gamma's docs describe it: the deck as
        ``gamma.gammaId``/``gamma.gammaUrl`` (already on a pending job once the document exists, from
        half-way here), the agent's ``result.summary``, and ``progress`` on every pending answer.

        ``progress`` is a GUESS: Gamma documents that a pending answer may carry card counts and an
        estimated completion but publishes no key names (gamma-api.md §18b; Gamma's n8n node reads
        none). Here: ``cardsCompleted`` (0 while the agent plans, the first half; then card by card),
        ``totalCards``, ``percentComplete`` (0-100) and ``estimatedCompletionTime`` (ISO-8601 UTC).
        Code reading it must tolerate any of these being absent or named otherwise on the real API.
        """
        payload: Json = {"generationId": generation.generation_id, "status": generation.status}
        gamma: Json = {"gammaId": generation.gamma_id, "gammaUrl": generation.gamma_url}
        if generation.status == "pending":
            now = time.monotonic()
            if generation.document_exists(now):
                payload["gamma"] = gamma
            payload["progress"] = {
                "cardsCompleted": generation.cards_written(now),
                "totalCards": generation.num_cards,
                "percentComplete": round(generation.done(now) * 100),
                "estimatedCompletionTime": _iso(generation.wall_time(generation.ready_at)),
            }
            return payload
        if generation.status == "completed":
            payload["gamma"] = gamma
            payload["result"] = {
                "summary": f"Built a {generation.num_cards}-card {generation.format} titled {generation.title!r}."
            }
            export_url = self.state.export_url(generation)
            if export_url is not None:
                payload["exportUrl"] = export_url
        else:
            payload["error"] = dict(generation.error or {})
        payload["credits"] = {"deducted": generation.credits_deducted or 0, "remaining": self.state.credits}
        return payload

    # ------------------------------------------------------------------------- themes, folders

    async def list_themes(self, request: web.Request) -> web.Response:
        """``GET /v1.0/themes``."""
        return self._list(self.themes, request, with_type=True)

    async def list_folders(self, request: web.Request) -> web.Response:
        """``GET /v1.0/folders``."""
        return self._list(self.folders, request, with_type=False)

    @staticmethod
    def _list(catalog: Catalog, request: web.Request, *, with_type: bool) -> web.Response:
        query = dict(request.query)
        errors: list[str] = []
        limit = 20
        if "limit" in query:
            try:
                number = float(query["limit"])
            except ValueError:
                errors.append("limit must be a number conforming to the specified constraints")
            else:
                if not number.is_integer():
                    errors.append("limit must be an integer number")
                elif number < 1:
                    errors.append("limit must not be less than 1")
                elif number > 50:
                    errors.append("limit must not be greater than 50")
                else:
                    limit = int(number)
        item_type = query.get("type") if with_type else None
        if item_type is not None and item_type not in ("standard", "custom"):
            errors.append("type must be one of: standard, custom")
        if errors:
            return _input_errors(errors)
        try:
            page = catalog.page(
                query=query.get("query") or None,
                limit=limit,
                after=query.get("after") or None,
                item_type=item_type,
            )
        except CursorError:
            return _input_errors(["after must be a valid cursor"])
        return json_response(200, page)

    # ---------------------------------------------------------------------------------- gammas

    def _gamma_hit(self, generation: GenerationState) -> Json:
        return {
            "id": generation.gamma_id,
            "title": generation.title,
            "url": generation.gamma_url,
            "highlight": generation.title,
            "createdBy": {"id": USER["id"], "email": USER["email"]},
            "updatedTime": _iso(self.state.updated_time(generation)),
            "archived": generation.archived,
        }

    async def search_gammas(self, request: web.Request) -> web.Response:
        """``GET /v1.0/gammas/search``: ``{"hits": [...]}``, one answer with no cursor; 403 where the
        workspace has no search yet (``search_enabled=False``)."""
        if not self.state.config.search_enabled:
            return gamma_error(403, "Search is not enabled for this workspace")
        query = dict(request.query)
        errors: list[str] = []
        bounds: dict[str, float | None] = {}
        for name in ("updatedAfter", "updatedBefore"):
            value = query.get(name)
            bounds[name] = None
            if value:
                try:
                    bounds[name] = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
                except ValueError:
                    errors.append(f"{name} must be a valid ISO 8601 date string")
        limit = 10
        if "limit" in query:
            if not query["limit"].isdigit() or not 1 <= int(query["limit"]) <= _SEARCH_LIMIT:
                errors.append(f"limit must be an integer from 1 to {_SEARCH_LIMIT}")
            else:
                limit = int(query["limit"])
        if query.get("includeArchived", "false") not in ("true", "false"):
            errors.append("includeArchived must be a boolean value")
        text, created_by = query.get("q", "").strip(), query.get("createdBy", "").strip()
        if not text and not any(bounds.values()) and not created_by:
            errors.append("q must not be empty unless a filter is given")
        if errors:
            return _input_errors(errors)
        hits = self.state.search(
            text,
            mine=created_by in ("", "me", USER["id"], USER["email"]),
            include_archived=query.get("includeArchived") == "true",
            updated_after=bounds["updatedAfter"],
            updated_before=bounds["updatedBefore"],
            limit=limit,
        )
        return json_response(200, {"hits": [self._gamma_hit(g) for g in hits]})

    async def get_gamma(self, request: web.Request) -> web.Response:
        """``GET /v1.0/gammas/{id}``: the eleven fields Gamma documents (and its node reads). A gamma
        still being written answers too where search shows one (``searchable_while_pending``), its
        ``updatedTime`` moving forward card by card until its generation ends."""
        gamma_id = request.match_info["id"]
        generation = self.state.gamma(gamma_id, unfinished=True)
        if generation is None or generation.deleted:
            return gamma_error(404, f"Gamma not found. gammaId: {gamma_id}")
        return json_response(
            200,
            {
                "id": generation.gamma_id,
                "title": generation.title,
                "type": "regular",
                "url": generation.gamma_url,
                "thumbnailUrl": f"https://cdn.gamma.app/thumbnails/{generation.gamma_id}.png",
                "description": f"A {generation.num_cards}-card {generation.format}.",
                "createdTime": _iso(generation.created_at),
                "archived": generation.archived,
                "updatedTime": _iso(self.state.updated_time(generation)),
                "author": dict(USER),
                "themeId": str(generation.request.get("themeId") or DEFAULT_THEME_ID),
            },
        )

    async def archive_gamma(self, request: web.Request) -> web.Response:
        """``POST /v1.0/gammas/{id}/archive``."""
        gamma_id = request.match_info["id"]
        if not self.state.archive(gamma_id):
            return gamma_error(403, "Access denied - edit permission required")
        return json_response(200, {"gammaId": gamma_id, "archived": True})

    async def delete_gamma(self, request: web.Request) -> web.Response:
        """``DELETE /v1.0/gammas/{id}``."""
        gamma_id = request.match_info["id"]
        outcome = self.state.delete(gamma_id)
        if outcome == "unknown":
            return gamma_error(403, "Access denied - workspace admin role required")
        if outcome == "gone":
            return gamma_error(404, f"Gamma not found. gammaId: {gamma_id}")
        return json_response(200, {"status": "deleted", "gammaId": gamma_id, "message": "Gamma deleted"})

    # --------------------------------------------------------------------------------- exports

    async def export_gamma(self, request: web.Request) -> web.Response:
        """``POST /v1.0/gammas/{id}/export``. A gamma still being written answers 404 as unknown:
        what Gamma does then is undocumented (this emulator's choice, as before pending gammas were
        readable)."""
        gamma_id = request.match_info["id"]
        body = await _body(request)
        export_as = body.get("exportAs") if isinstance(body, dict) else None
        if export_as not in FILE_EXTENSIONS:
            return _input_errors(["exportAs must be one of: pdf, pptx, png"])
        job = self.state.create_export(gamma_id, export_as)
        if job == "unknown":
            return gamma_error(404, f"Gamma not found. gammaId: {gamma_id}")
        if job == "archived":  # Gamma documents the refusal, not its status: a 400 is this emulator's
            return gamma_error(400, f"Archived gammas cannot be exported. gammaId: {gamma_id}")
        return json_response(200, {"exportId": job.export_id})

    async def get_export(self, request: web.Request) -> web.Response:
        """``GET /v1.0/exports/{id}``."""
        export_id = request.match_info["id"]
        found = self.state.export_job(export_id)
        if found is None:
            return gamma_error(404, f"Export not found. exportId: {export_id}")
        job, done = found
        status = "pending" if not done else "failed" if job.failure else "completed"
        payload: Json = {
            "exportId": job.export_id,
            "exportAs": job.export_as,
            "gammaId": job.gamma_id,
            "status": status,
        }
        generation = self.state.gamma(job.gamma_id)
        if status == "completed" and generation is not None:
            payload["exportUrl"] = self.state.export_url(
                generation, export_as=job.export_as, revision=job.revision
            )
        elif status == "failed" and job.failure is not None:
            # Sources disagree on where the code goes (``reason`` or ``error.reason``): here, the latter.
            message, reason = job.failure
            payload["error"] = {"message": message, "reason": reason}
        return json_response(200, payload)
