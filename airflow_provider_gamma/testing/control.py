# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The emulator's own control API under ``/_emulator/`` on the API host: what
:class:`~airflow_provider_gamma.testing.GammaEmulator`'s methods do, for a test or a demo talking to
an emulator in another process (``python -m airflow_provider_gamma.testing.emulator``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_gamma.testing.answers import Json, json_response
from airflow_provider_gamma.testing.edits import DEFAULT_EDIT_FAILURE, lost_edit_answer
from airflow_provider_gamma.testing.faults import FaultRule
from airflow_provider_gamma.testing.state import DEFAULT_FAILURE_MESSAGE

if TYPE_CHECKING:
    from airflow_provider_gamma.testing.server import EmulatorCore

__all__ = ["ControlApi", "is_control", "unknown_control_endpoint"]

#: What a control endpoint does: the posted JSON object (``{}`` without one) and the path's
#: parameters in, the JSON answer out. ``ValueError``/``TypeError`` answer 400, ``KeyError`` 404.
Action = Callable[[Json, Mapping[str, str]], Any]


def is_control(path: str) -> bool:
    """Whether ``path`` belongs to the control API rather than to Gamma's."""
    return path == "/_emulator" or path.startswith("/_emulator/")


def unknown_control_endpoint(request: web.Request) -> web.Response:
    """The answer to a control path no route serves."""
    return json_response(404, {"error": f"unknown control endpoint {request.method} {request.path}"})


def _route(method: str, path: str, action: Action) -> web.RouteDef:
    """``action`` as the handler of ``method path`` (a ``GET`` here does not answer ``HEAD``)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            body: Any = await request.json() if request.can_read_body else None
        except ValueError:
            return json_response(400, {"error": "body must be JSON"})
        try:
            return json_response(200, action(body if isinstance(body, dict) else {}, request.match_info))
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        except KeyError as exc:
            what = str(exc.args[0])  # a bare id is a generation's; else it names its kind
            return json_response(404, {"error": f"unknown {what if ' ' in what else 'generation ' + what}"})

    return web.route(method, path, handle, **({"allow_head": False} if method == "GET" else {}))


class ControlApi:
    """The control endpoints of one emulator.

    Args:
        core: The emulator's state, fault rules and rate limiter.
    """

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        """The control endpoints."""
        core, state = self.core, self.core.state
        return [
            _route("GET", "/_emulator/health", lambda body, path: self._health()),
            _route(
                "POST",
                "/_emulator/faults",
                lambda body, path: core.faults.add(FaultRule.from_dict(body)).to_dict(),
            ),
            _route(
                "GET",
                "/_emulator/faults",
                lambda body, path: [rule.to_dict() for rule in core.faults.snapshot()],
            ),
            _route("DELETE", "/_emulator/faults", lambda body, path: self._ok(core.faults.clear)),
            _route("POST", "/_emulator/reset", lambda body, path: self._ok(core.reset)),
            _route(
                "GET", "/_emulator/requests", lambda body, path: [r.to_dict() for r in state.requests("api")]
            ),
            _route(
                "GET",
                "/_emulator/export-requests",
                lambda body, path: [r.to_dict() for r in state.requests("export")],
            ),
            _route(
                "GET",
                "/_emulator/generations",
                lambda body, path: {k: g.to_dict() for k, g in state.snapshot().items()},
            ),
            _route("GET", "/_emulator/credits", lambda body, path: {"credits": state.credits}),
            _route("PUT", "/_emulator/credits", lambda body, path: self._set_credits(body)),
            _route("POST", "/_emulator/fail-next", lambda body, path: self._fail_next(body)),
            _route(
                "POST",
                "/_emulator/generations/{generation_id:[^/]+}/{action:complete|fail}",
                self._finish_generation,
            ),
            *self._living_routes(),
        ]

    def _living_routes(self) -> list[web.RouteDef]:
        """Uploads received, edits made and their faults, analytics permission and viewer counts."""
        core, state = self.core, self.core.state
        return [
            _route(
                "GET",
                "/_emulator/uploads",
                lambda body, path: {k: u.to_dict() for k, u in state.uploads.snapshot().items()},
            ),
            _route(
                "GET",
                "/_emulator/edits",
                lambda body, path: {k: e.to_dict() for k, e in core.edits.snapshot().items()},
            ),
            _route("POST", "/_emulator/fail-next-edit", lambda body, path: self._fail_next_edit(body)),
            _route(
                "POST",
                "/_emulator/lose-next-edit-answer",
                lambda body, path: core.faults.add(lost_edit_answer(body.get("status"))).to_dict(),
            ),
            _route("POST", "/_emulator/edits/{edit_id:[^/]+}/{action:complete|fail}", self._finish_edit),
            _route("PUT", "/_emulator/analytics-access", lambda body, path: self._analytics_access(body)),
            _route(
                "PUT",
                "/_emulator/analytics/{gamma_id:[^/]+}/viewers",
                lambda body, path: self._viewer_count(path["gamma_id"], body),
            ),
        ]

    def _fail_next_edit(self, body: Json) -> Json:
        self.core.edits.fail_next(
            str(body.get("message", DEFAULT_EDIT_FAILURE)),
            int(body.get("statusCode", 500)),
            int(body.get("count", 1)),
        )
        return {"ok": True}

    def _finish_edit(self, body: Json, path: Mapping[str, str]) -> Json:
        failure = None
        if path["action"] == "fail":
            failure = (str(body.get("message", DEFAULT_EDIT_FAILURE)), int(body.get("statusCode", 500)))
        try:
            return self.core.edits.finish_now(path["edit_id"], failure).to_dict()
        except KeyError:
            raise KeyError(f"edit {path['edit_id']}") from None

    def _analytics_access(self, body: Json) -> Json:
        access = body.get("access")
        if access not in ("manage", "edit", "none"):
            raise ValueError("access must be 'manage', 'edit' or 'none'")
        self.core.state.config.analytics_access = access
        return {"access": access}

    def _viewer_count(self, gamma_id: str, body: Json) -> Json:
        count = int(body["count"])
        if count < 0:
            raise ValueError("count must be >= 0")
        self.core.analytics.viewer_counts[gamma_id] = count
        return {"gammaId": gamma_id, "count": count}

    def _health(self) -> Json:
        return {
            "ok": True,
            "base_url": self.core.base_url,
            "export_base_url": self.core.state.export_base_url,
        }

    @staticmethod
    def _ok(do: Callable[[], None]) -> Json:
        do()
        return {"ok": True}

    def _set_credits(self, body: Json) -> Json:
        self.core.state.credits = int(body["credits"])
        return {"credits": self.core.state.credits}

    def _fail_next(self, body: Json) -> Json:
        self.core.state.fail_next(
            str(body.get("message", DEFAULT_FAILURE_MESSAGE)),
            int(body.get("statusCode", 500)),
            int(body.get("count", 1)),
        )
        return {"ok": True}

    def _finish_generation(self, body: Json, path: Mapping[str, str]) -> Json:
        state, generation_id = self.core.state, path["generation_id"]
        if path["action"] == "complete":
            state.finish_now(generation_id)
        else:
            failure = (str(body.get("message", DEFAULT_FAILURE_MESSAGE)), int(body.get("statusCode", 500)))
            if body.get("immediately", True):
                state.finish_now(generation_id, failure)
            else:
                state.plan_failure(generation_id, failure)
        generation = state.get(generation_id)
        assert generation is not None
        return generation.to_dict()
