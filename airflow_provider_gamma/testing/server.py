# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""aiohttp applications of the Gamma emulator: the API host (plus its ``/_emulator`` control
API) and the export host serving signed, expiring download URLs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, Literal

from aiohttp import web

from airflow_provider_gamma.testing.catalog import Catalog, CursorError
from airflow_provider_gamma.testing.exports import CONTENT_TYPES, FILE_EXTENSIONS
from airflow_provider_gamma.testing.faults import FaultRule, FaultRules, default_fault_message
from airflow_provider_gamma.testing.ratelimit import RateLimiter
from airflow_provider_gamma.testing.state import (
    EmulatorState,
    GenerationState,
    InsufficientCreditsError,
    RecordedRequest,
)
from airflow_provider_gamma.testing.validation import (
    Validation,
    validate_agent_generation,
    validate_generation,
    validate_template_generation,
)

__all__ = ["EmulatorCore"]

_GENERATION = re.compile(r"^/v1\.0/generations/([^/]+)$")
_AGENT_GENERATION = re.compile(r"^/v1\.0/agent/generations/([^/]+)$")
_ARCHIVE = re.compile(r"^/v1\.0/gammas/([^/]+)/archive$")
_GAMMA = re.compile(r"^/v1\.0/gammas/([^/]+)$")
_GAMMA_EXPORT = re.compile(r"^/v1\.0/gammas/([^/]+)/export$")
_EXPORT_JOB = re.compile(r"^/v1\.0/exports/([^/]+)$")
_SEARCH_LIMIT: Final = 25
_EXPORT = re.compile(r"^/export/([A-Za-z0-9_\-]+)\.([a-z]+)$")
_CONTROL_GENERATION = re.compile(r"^/_emulator/generations/([^/]+)/(complete|fail)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK: Final = 1 << 20
_ZEROS: Final = bytes(_CHUNK)
_CARD_BREAK: Final = "\n---\n"

Json = dict[str, Any]


def _cards_of(page: Json) -> int:
    if page.get("cardSplit") == "inputTextBreaks":
        return str(page["inputText"]).count(_CARD_BREAK) + 1
    return int(page.get("numCards") or 10)


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def _error(status: int, message: str) -> tuple[int, Json]:
    return status, {"message": message, "statusCode": status}


def _s3_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml", headers=headers)


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _content_type(body: Any) -> str:
    return "application/json" if isinstance(body, dict | list) else "text/plain"


class EmulatorCore:
    """State, fault rules, rate limiter and catalogs, plus the two aiohttp applications.

    Args:
        state: Generations, credits and recorded requests.
        themes: Themes served by ``GET /v1.0/themes``.
        folders: Folders served by ``GET /v1.0/folders``.
    """

    def __init__(self, state: EmulatorState, themes: Catalog, folders: Catalog) -> None:
        config = state.config
        self.state = state
        self.faults = FaultRules()
        self.limiter = RateLimiter(
            config.burst_limit, config.burst_window_seconds, config.hourly_limit, config.daily_limit
        )
        self.themes = themes
        self.folders = folders
        self.base_url = ""

    def reset(self) -> None:
        """Clear recorded requests, fault rules, generations and rate-limit windows."""
        self.faults.clear()
        self.state.reset()
        self.limiter.reset()

    # ===================================================================================== apps

    def api_app(self) -> web.Application:
        """The API host application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._api_entry)
        return app

    def export_app(self) -> web.Application:
        """The export host application."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._export_entry)
        return app

    # ================================================================================ API host

    async def _api_entry(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_emulator/") or request.path == "/_emulator":
            return await self._control(request)
        raw = await request.read()
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        record = RecordedRequest(
            host="api",
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            body=raw,
            request_id=str(uuid.uuid4()),
        )
        self.state.record(record)
        fault = self.faults.take("api", request.method, request.path)
        if fault is None:
            return self._finish(record, self._api_response(record))
        record.fault = fault.to_dict()
        # created=True: Gamma acted on the request (e.g. started a billed generation) before the fault,
        # even if the client gives up waiting during the delay.
        real = self._api_response(record) if fault.created else None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is None and not fault.drop and fault.truncate_at is None:
            return self._finish(record, real or self._api_response(record))
        if real is None and fault.truncate_at is not None:
            real = self._api_response(record)
        if fault.drop:
            return self._drop(request, record)
        if fault.truncate_at is not None and real is not None:
            return await self._truncated(request, record, real, fault.truncate_at)
        return self._finish(record, self._fault_response(record, fault))

    def _finish(self, record: RecordedRequest, response: web.Response) -> web.Response:
        record.status = response.status
        return response

    @staticmethod
    def _drop(request: web.Request, record: RecordedRequest) -> web.Response:
        record.status = None
        if request.transport is not None:
            request.transport.close()
        return web.Response()

    @staticmethod
    async def _truncated(
        request: web.Request, record: RecordedRequest, real: web.Response, limit: int
    ) -> web.StreamResponse:
        body = real.body if isinstance(real.body, bytes) else b""
        response = web.StreamResponse(status=real.status, headers=real.headers)
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[:limit])
        record.status = real.status
        if request.transport is not None:
            request.transport.close()
        return response

    def _fault_response(self, record: RecordedRequest, fault: FaultRule) -> web.Response:
        assert fault.status is not None
        headers = {"x-request-id": record.request_id or "", **self.limiter.peek()}
        if fault.retry_after is not None:
            headers["Retry-After"] = _retry_after(fault.retry_after)
        if fault.body is None:
            return _json_response(
                fault.status, _error(fault.status, default_fault_message(fault.status))[1], headers
            )
        return web.Response(
            status=fault.status,
            body=_body_bytes(fault.body),
            content_type=_content_type(fault.body),
            headers=headers,
        )

    def _api_response(self, record: RecordedRequest) -> web.Response:
        headers = {"x-request-id": record.request_id or ""}
        if record.headers.get("x-api-key") != self.state.config.api_key:
            headers.update(self.limiter.peek())
            return _json_response(*_error(401, "Invalid API key."), headers)
        decision = self.limiter.hit()
        headers.update(decision.headers)
        if not decision.allowed:
            if self.state.config.rate_limit_retry_after:
                headers["Retry-After"] = str(max(1, int(decision.retry_after + 0.999)))
            return _json_response(*_error(429, "Too many requests"), headers)
        status, payload = self._route(record)
        return _json_response(status, payload, headers)

    def _route(self, record: RecordedRequest) -> tuple[int, Json]:
        method, path = record.method, record.path
        get = method in ("GET", "HEAD")
        if method == "POST" and path == "/v1.0/generations":
            return self._create_generation(record.json)
        if method == "POST" and path == "/v1.0/generations/from-template":
            return self._create_from_template(record.json)
        if get and path == "/v1.0/themes":
            return self._list(self.themes, record.query, with_type=True)
        if get and path == "/v1.0/folders":
            return self._list(self.folders, record.query, with_type=False)
        if get and (match := _GENERATION.match(path)):
            return self._poll(match.group(1), agent=False)
        if method == "POST" and path == "/v1.0/agent/generations":
            return self._create_agent_generation(record.json)
        if get and (match := _AGENT_GENERATION.match(path)):
            return self._poll(match.group(1), agent=True)
        if get and path == "/v1.0/gammas/search":
            return self._search(record.query)
        if get and (match := _GAMMA.match(path)):
            return self._get_gamma(match.group(1))
        if method == "POST" and (match := _GAMMA_EXPORT.match(path)):
            return self._export_gamma(match.group(1), record.json)
        if get and (match := _EXPORT_JOB.match(path)):
            return self._export_job(match.group(1))
        if method == "POST" and (match := _ARCHIVE.match(path)):
            return self._archive(match.group(1))
        if method == "DELETE" and (match := _GAMMA.match(path)):
            return self._delete(match.group(1))
        return _error(404, f"Cannot {method} {path}")

    # ------------------------------------------------------------------------------ endpoints

    def _start(
        self,
        body: Json,
        validation: Validation,
        *,
        kind: Literal["generate", "template", "agent"],
        text: str,
        num_cards: int,
        template_gamma_id: str | None = None,
    ) -> tuple[int, Json]:
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
            return _error(403, "Insufficient credits remaining")
        payload: Json = {"generationId": generation.generation_id}
        if generation.warnings:
            payload["warnings"] = generation.warnings
        if validation.page_warnings:
            payload["pageWarnings"] = validation.page_warnings
        return 200, payload

    def _create_generation(self, body: Any) -> tuple[int, Json]:
        config = self.state.config
        validation = validate_generation(
            body, max_cards=config.max_cards, reject_unknown=config.reject_unknown_fields
        )
        if validation.errors:
            return _error(400, validation.message)
        pages = body.get("pages") or [body]  # a multi-page file: each page's own fields win
        num_cards = sum(_cards_of({**body, **page}) for page in pages)
        text = _CARD_BREAK.join(str(page["inputText"]) for page in pages)
        return self._start(body, validation, kind="generate", text=text, num_cards=num_cards)

    def _create_from_template(self, body: Any) -> tuple[int, Json]:
        validation = validate_template_generation(
            body, reject_unknown=self.state.config.reject_unknown_fields
        )
        if validation.errors:
            return _error(400, validation.message)
        template_id = str(body["gammaId"])
        if not template_id.startswith("g_"):
            return _error(400, "Invalid request or template not found")
        num_cards = 5
        if self.state.made_gamma(template_id):  # A gamma made by this emulator: reuse its size.
            template = self.state.gamma(template_id)
            if template is None or template.deleted:
                return _error(400, "Invalid request or template not found")
            num_cards = template.num_cards
        return self._start(
            body,
            validation,
            kind="template",
            text=str(body["prompt"]),
            num_cards=num_cards,
            template_gamma_id=template_id,
        )

    def _create_agent_generation(self, body: Any) -> tuple[int, Json]:
        validation = validate_agent_generation(body, reject_unknown=self.state.config.reject_unknown_fields)
        if validation.errors:
            return _error(400, validation.message)
        num_cards = int(body.get("numCards") or 8)
        return self._start(body, validation, kind="agent", text=str(body["prompt"]), num_cards=num_cards)

    def _poll(self, generation_id: str, *, agent: bool) -> tuple[int, Json]:
        generation = self.state.get(generation_id)
        if generation is None or (generation.kind == "agent") != agent:
            return _error(404, f"Generation ID not found. generationId: {generation_id}")
        return 200, self.poll_payload(generation)

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
        """``GET /v1.0/agent/generations/{id}``, as Gamma's docs describe it: the gamma as a ``gamma``
        object (already on a pending job once the document exists, from half-way here), the agent's
        ``result.summary``, and ``progress`` while pending. The ``progress`` keys are this emulator's
        guess: Gamma documents card counts and a percentage without a schema."""
        payload: Json = {"generationId": generation.generation_id, "status": generation.status}
        gamma: Json = {"id": generation.gamma_id, "url": generation.gamma_url, "title": generation.title}
        if generation.status == "pending":
            left = max(0.0, generation.ready_at - time.monotonic())
            done = 1.0 - left / generation.duration if generation.duration > 0 else 1.0
            if done >= 0.5:
                payload["gamma"] = gamma
                payload["progress"] = {
                    "cardsCompleted": int(generation.num_cards * (done - 0.5) * 2),
                    "totalCards": generation.num_cards,
                    "percentComplete": round(done * 100),
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

    def _list(self, catalog: Catalog, query: dict[str, str], *, with_type: bool) -> tuple[int, Json]:
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
            return _error(
                400, "Input validation errors: " + " ".join(f"{i}. {e}" for i, e in enumerate(errors, 1))
            )
        try:
            page = catalog.page(
                query=query.get("query") or None,
                limit=limit,
                after=query.get("after") or None,
                item_type=item_type,
            )
        except CursorError:
            return _error(400, "Input validation errors: 1. after must be a valid cursor")
        return 200, page

    @staticmethod
    def _gamma_hit(generation: GenerationState) -> Json:
        updated = generation.completed_at or generation.created_at
        return {
            "id": generation.gamma_id,
            "title": generation.title,
            "url": generation.gamma_url,
            "createdBy": {"id": "user_emulator", "email": "emulator@example.com"},
            "updatedTime": datetime.fromtimestamp(updated, UTC).isoformat().replace("+00:00", "Z"),
            "archived": generation.archived,
        }

    def _search(self, query: dict[str, str]) -> tuple[int, Json]:
        if not self.state.config.search_enabled:
            return _error(403, "Search is not enabled for this workspace")
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
        text = query.get("q", "")
        if not text.strip() and not any(bounds.values()) and not query.get("createdBy"):
            errors.append("q must not be empty unless a filter is given")
        if errors:
            return _error(
                400, "Input validation errors: " + " ".join(f"{i}. {e}" for i, e in enumerate(errors, 1))
            )
        hits = self.state.search(
            text.strip(),
            include_archived=query.get("includeArchived") == "true",
            updated_after=bounds["updatedAfter"],
            updated_before=bounds["updatedBefore"],
            limit=limit,
        )
        return 200, {"hits": [{**self._gamma_hit(g), "highlight": g.title} for g in hits]}

    def _get_gamma(self, gamma_id: str) -> tuple[int, Json]:
        generation = self.state.gamma(gamma_id)
        if generation is None or generation.deleted:
            return _error(404, f"Gamma not found. gammaId: {gamma_id}")
        gamma = self._gamma_hit(generation)
        gamma["type"] = "regular"
        gamma["createdTime"] = (
            datetime.fromtimestamp(generation.created_at, UTC).isoformat().replace("+00:00", "Z")
        )
        return 200, gamma

    def _export_gamma(self, gamma_id: str, body: Any) -> tuple[int, Json]:
        export_as = body.get("exportAs") if isinstance(body, dict) else None
        if export_as not in FILE_EXTENSIONS:
            return _error(400, "Input validation errors: 1. exportAs must be one of: pdf, pptx, png")
        job = self.state.create_export(gamma_id, export_as)
        if job is None:
            return _error(404, f"Gamma not found or archived. gammaId: {gamma_id}")
        return 200, {"exportId": job.export_id}

    def _export_job(self, export_id: str) -> tuple[int, Json]:
        found = self.state.export_job(export_id)
        if found is None:
            return _error(404, f"Export not found. exportId: {export_id}")
        job, done = found
        payload: Json = {
            "exportId": job.export_id,
            "exportAs": job.export_as,
            "gammaId": job.gamma_id,
            "status": "completed" if done else "pending",
        }
        generation = self.state.gamma(job.gamma_id)
        if done and generation is not None:
            payload["exportUrl"] = self.state.export_url(generation, export_as=job.export_as)
        return 200, payload

    def _archive(self, gamma_id: str) -> tuple[int, Json]:
        if not self.state.archive(gamma_id):
            return _error(403, "Access denied - edit permission required")
        return 200, {"gammaId": gamma_id, "archived": True}

    def _delete(self, gamma_id: str) -> tuple[int, Json]:
        outcome = self.state.delete(gamma_id)
        if outcome == "unknown":
            return _error(403, "Access denied - workspace admin role required")
        if outcome == "gone":
            return _error(404, f"Gamma not found. gammaId: {gamma_id}")
        return 200, {"status": "deleted", "gammaId": gamma_id, "message": "Gamma deleted"}

    # ============================================================================ control API

    async def _control(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json() if request.can_read_body else None
        except ValueError:
            return _json_response(400, {"error": "body must be JSON"})
        try:
            return self._control_route(request.method, request.path, body if isinstance(body, dict) else {})
        except (ValueError, TypeError) as exc:
            return _json_response(400, {"error": str(exc)})
        except KeyError as exc:
            return _json_response(404, {"error": f"unknown generation {exc.args[0]}"})

    def _control_route(self, method: str, path: str, body: Json) -> web.Response:
        state = self.state
        handlers: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/_emulator/health"): lambda: {
                "ok": True,
                "base_url": self.base_url,
                "export_base_url": state.export_base_url,
            },
            ("POST", "/_emulator/faults"): lambda: self.faults.add(FaultRule.from_dict(body)).to_dict(),
            ("GET", "/_emulator/faults"): lambda: [rule.to_dict() for rule in self.faults.snapshot()],
            ("DELETE", "/_emulator/faults"): self._clear_faults,
            ("POST", "/_emulator/reset"): self._reset,
            ("GET", "/_emulator/requests"): lambda: [r.to_dict() for r in state.requests("api")],
            ("GET", "/_emulator/export-requests"): lambda: [r.to_dict() for r in state.requests("export")],
            ("GET", "/_emulator/generations"): lambda: {k: g.to_dict() for k, g in state.snapshot().items()},
            ("GET", "/_emulator/credits"): lambda: {"credits": state.credits},
            ("PUT", "/_emulator/credits"): lambda: self._set_credits(body),
            ("POST", "/_emulator/fail-next"): lambda: self._fail_next(body),
        }
        handler = handlers.get((method, path))
        if handler is not None:
            return _json_response(200, handler())
        match = _CONTROL_GENERATION.match(path)
        if method == "POST" and match:
            generation_id, action = match.groups()
            if action == "complete":
                state.finish_now(generation_id)
            else:
                failure = (
                    str(body.get("message", "An error occurred while generating the gamma.")),
                    int(body.get("statusCode", 500)),
                )
                if body.get("immediately", True):
                    state.finish_now(generation_id, failure)
                else:
                    state.plan_failure(generation_id, failure)
            generation = state.get(generation_id)
            assert generation is not None
            return _json_response(200, generation.to_dict())
        return _json_response(404, {"error": f"unknown control endpoint {method} {path}"})

    def _clear_faults(self) -> Json:
        self.faults.clear()
        return {"ok": True}

    def _reset(self) -> Json:
        self.reset()
        return {"ok": True}

    def _set_credits(self, body: Json) -> Json:
        self.state.credits = int(body["credits"])
        return {"credits": self.state.credits}

    def _fail_next(self, body: Json) -> Json:
        self.state.fail_next(
            str(body.get("message", "An error occurred while generating the gamma.")),
            int(body.get("statusCode", 500)),
            int(body.get("count", 1)),
        )
        return {"ok": True}

    # ============================================================================= export host

    async def _export_entry(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(
            host="export",
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=None,
        )
        self.state.record(record)
        fault = self.faults.take("export", request.method, request.path)
        truncate_at: int | None = None
        if fault is not None:
            record.fault = fault.to_dict()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return self._drop(request, record)
            if fault.status is not None:
                headers = (
                    {"Retry-After": _retry_after(fault.retry_after)} if fault.retry_after is not None else {}
                )
                if fault.body is None:
                    response = _s3_error(
                        fault.status, "ServiceError", default_fault_message(fault.status), headers
                    )
                else:
                    response = web.Response(
                        status=fault.status,
                        body=_body_bytes(fault.body),
                        content_type=_content_type(fault.body),
                        headers=headers,
                    )
                return self._finish(record, response)
            truncate_at = fault.truncate_at
        return await self._serve_export(request, record, truncate_at)

    async def _serve_export(
        self, request: web.Request, record: RecordedRequest, truncate_at: int | None
    ) -> web.StreamResponse:
        match = _EXPORT.match(request.path)
        if request.method not in ("GET", "HEAD"):
            return self._finish(
                record, _s3_error(405, "MethodNotAllowed", "The specified method is not allowed")
            )
        if match is None:
            return self._finish(record, _s3_error(404, "NoSuchKey", "The specified key does not exist."))
        gamma_id, ext = match.groups()
        problem = self.state.check_signature(
            f"{gamma_id}.{ext}", request.query.get("expires"), request.query.get("signature")
        )
        if problem is not None:
            return self._finish(record, _s3_error(403, "AccessDenied", problem))
        generation = self.state.gamma(gamma_id)
        export_as = next((fmt for fmt, known in FILE_EXTENSIONS.items() if known == ext), None)
        if generation is None or generation.deleted or export_as not in generation.exports:
            return self._finish(record, _s3_error(404, "NoSuchKey", "The specified key does not exist."))
        assert export_as is not None
        data = self.state.export_bytes(generation, export_as)
        padding = self.state.config.export_padding_bytes
        total = len(data) + padding
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}-{padding}"'
        headers = {
            "Content-Type": CONTENT_TYPES[export_as],
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Content-Disposition": f'attachment; filename="{gamma_id}.{ext}"',
            "Cache-Control": "private, max-age=0",
        }
        start, end, status = 0, total - 1, 200
        range_header = request.headers.get("Range")
        if range_header:
            parsed = self._parse_range(range_header, total)
            if parsed is None:
                problem_headers = {"Content-Range": f"bytes */{total}"}
                return self._finish(
                    record,
                    _s3_error(416, "InvalidRange", "The requested range is not satisfiable", problem_headers),
                )
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        length = end - start + 1
        if request.method == "HEAD":
            headers["Content-Length"] = str(length)
            return self._finish(record, web.Response(status=status, headers=headers))
        if padding == 0 and truncate_at is None:
            return self._finish(
                record, web.Response(status=status, body=data[start : end + 1], headers=headers)
            )
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = length
        await response.prepare(request)
        record.status = status
        budget = length if truncate_at is None else min(length, truncate_at)
        try:
            for piece in self._pieces(data, start, end):
                if budget <= 0:
                    break
                chunk = piece[:budget] if len(piece) > budget else piece
                await response.write(chunk)
                budget -= len(chunk)
        except ConnectionError:  # The client went away mid-download: nothing left to do.
            return response
        if truncate_at is not None and truncate_at < length:
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    @staticmethod
    def _parse_range(value: str, total: int) -> tuple[int, int] | None:
        match = _RANGE.match(value.strip())
        if match is None or total == 0:
            return None
        first, last = match.groups()
        if not first and not last:
            return None
        if not first:  # suffix range: the last N bytes
            size = int(last)
            if size == 0:
                return None
            return max(0, total - size), total - 1
        start = int(first)
        end = int(last) if last else total - 1
        if start >= total or end < start:
            return None
        return start, min(end, total - 1)

    @staticmethod
    def _pieces(data: bytes, start: int, end: int) -> Iterator[bytes | memoryview]:
        """Yield the bytes ``start..end`` of ``data`` followed by zero padding, in chunks."""
        view = memoryview(data)
        position = start
        while position <= end:
            if position < len(data):
                stop = min(len(data), end + 1, position + _CHUNK)
                yield view[position:stop]
            else:
                stop = min(end + 1, position + _CHUNK)
                yield _ZEROS if stop - position == _CHUNK else memoryview(_ZEROS)[: stop - position]
            position = stop
