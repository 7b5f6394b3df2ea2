# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The emulator's two aiohttp applications and the front door of each: the API host (Gamma's
endpoints plus the ``/_emulator`` control API) and the export host serving signed download URLs.

The routes only answer; what applies to every request of a host happens once, in its middleware:
recording the request, injected faults, and on the API host the API key, the rate limit and the
``x-request-id`` header.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from airflow_provider_gamma.testing.analytics import Analytics
from airflow_provider_gamma.testing.answers import StreamedBody, gamma_error, parse_json, s3_error
from airflow_provider_gamma.testing.catalog import Catalog
from airflow_provider_gamma.testing.control import ControlApi, is_control, unknown_control_endpoint
from airflow_provider_gamma.testing.downloads import ExportDownloads, no_such_download
from airflow_provider_gamma.testing.edits import Edits
from airflow_provider_gamma.testing.faults import FaultRule, FaultRules, default_fault_message
from airflow_provider_gamma.testing.gamma_api import GammaApi
from airflow_provider_gamma.testing.living import LivingApi
from airflow_provider_gamma.testing.ratelimit import RateLimiter
from airflow_provider_gamma.testing.state import EmulatorState, RecordedRequest

__all__ = ["EmulatorCore"]

#: Requests whose body the route streams itself (a file of up to 250 MiB): not read, nor recorded.
_STREAMED = ("POST", "/v1.0/uploads")


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _recorded(
    request: web.Request, host: str, body: bytes = b"", request_id: str | None = None
) -> RecordedRequest:
    return RecordedRequest(
        host=host,
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers={k.lower(): v for k, v in request.headers.items()},
        json=parse_json(body),
        body=body,
        request_id=request_id,
    )


def _fault_body(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _answered(record: RecordedRequest, response: web.StreamResponse) -> web.StreamResponse:
    record.status = response.status
    return response


def _dropped(request: web.Request, record: RecordedRequest) -> web.Response:
    record.status = None
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def _fault_answer(
    fault: FaultRule,
    headers: dict[str, str],
    default: Callable[[int, str, Mapping[str, str]], web.Response],
) -> web.Response:
    """A fault's ``status`` answer: its own ``body``, or the host's usual error with Gamma's message."""
    assert fault.status is not None
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after(fault.retry_after)
    if fault.body is None:
        return default(fault.status, default_fault_message(fault.status), headers)
    body = fault.body
    return web.Response(
        status=fault.status,
        body=_fault_body(body),
        content_type="application/json" if isinstance(body, dict | list) else "text/plain",
        headers=headers,
    )


async def _routed(
    request: web.Request, handler: Handler, unrouted: Callable[[web.Request], web.Response]
) -> web.StreamResponse:
    """The route's answer, or the host's own for a request no route serves (aiohttp's router raises)."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return unrouted(request)


def _no_gamma_route(request: web.Request) -> web.Response:
    return gamma_error(404, f"Cannot {request.method} {request.path}")


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
        self.gamma = GammaApi(state, themes, folders)
        self.edits = Edits(state)
        self.analytics = Analytics()
        self.base_url = ""

    def reset(self) -> None:
        """Clear recorded requests, fault rules, generations, uploads, edits, analytics settings and
        rate-limit windows."""
        self.faults.clear()
        self.state.reset()
        self.edits.reset()
        self.analytics.viewer_counts.clear()
        self.limiter.reset()

    def api_app(self) -> web.Application:
        """The API host application."""
        app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=[self._api_door])
        app.router.add_routes(self.gamma.routes())
        app.router.add_routes(LivingApi(self.state, self.edits, self.analytics).routes())
        app.router.add_routes(ControlApi(self).routes())
        return app

    def export_app(self) -> web.Application:
        """The export host application."""
        app = web.Application(middlewares=[self._export_door])
        app.router.add_routes(ExportDownloads(self.state).routes())
        return app

    # ================================================================================ API host

    @web.middleware
    async def _api_door(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_control(request.path):  # The emulator's own API: not Gamma's, so none of the below.
            return await _routed(request, handler, unknown_control_endpoint)
        streamed = (request.method, request.path) == _STREAMED
        record = _recorded(request, "api", b"" if streamed else await request.read(), str(uuid.uuid4()))
        self.state.record(record)
        fault = self.faults.take("api", request.method, request.path)
        if fault is None:
            return _answered(record, await self._answer(request, record, handler))
        record.fault = fault.to_dict()
        # created=True: Gamma acted on the request (e.g. started a billed generation) before the fault,
        # even if the client gives up waiting during the delay.
        real = await self._answer(request, record, handler) if fault.created else None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            return _dropped(request, record)
        if fault.status is not None:
            headers = {"x-request-id": record.request_id or "", **self.limiter.peek()}
            return _answered(record, _fault_answer(fault, headers, gamma_error))
        if real is None:
            real = await self._answer(request, record, handler)
        if fault.truncate_at is not None and request.method != "HEAD":
            real = StreamedBody.cut(real, fault.truncate_at)
        return _answered(record, real)

    async def _answer(
        self, request: web.Request, record: RecordedRequest, handler: Handler
    ) -> web.StreamResponse:
        """Gamma's answer: the API key and the rate limit first, then the route's."""
        headers = {"x-request-id": record.request_id or ""}
        if record.headers.get("x-api-key") != self.state.config.api_key:
            return gamma_error(401, "Invalid API key.", {**headers, **self.limiter.peek()})
        decision = self.limiter.hit()
        headers.update(decision.headers)
        if not decision.allowed:
            if self.state.config.rate_limit_retry_after:
                headers["Retry-After"] = str(max(1, int(decision.retry_after + 0.999)))
            return gamma_error(429, "Too many requests", headers)
        response = await _routed(request, handler, _no_gamma_route)
        response.headers.update(headers)
        return response

    # ============================================================================= export host

    @web.middleware
    async def _export_door(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = _recorded(request, "export")
        self.state.record(record)
        fault = self.faults.take("export", request.method, request.path)
        if fault is not None:
            record.fault = fault.to_dict()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return _dropped(request, record)
            if fault.status is not None:
                return _answered(
                    record, _fault_answer(fault, {}, lambda s, m, h: s3_error(s, "ServiceError", m, h))
                )
        response = await _routed(request, handler, no_such_download)
        if fault is not None and fault.truncate_at is not None and isinstance(response, StreamedBody):
            response.cut_at = fault.truncate_at  # Only a file's bytes are cut, never an error.
        return _answered(record, response)
