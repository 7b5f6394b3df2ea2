# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Contract fixtures: Gamma's own answers, one JSON file per call in ``fixtures/``, each read by the
protocol module and compared key for key with what the emulator answers to the same call.

A fixture is ``{"source", "date", "call", "request": {"method", "path", "query"?, "body"?}, "status",
"body"}``, optionally with ``"raises"`` (the exception a non-2xx answer maps to), ``"loose"`` (paths
whose type no source settles: only their presence is compared) and ``"optional"`` (paths Gamma sends
only sometimes: not compared). ``call`` is the live check's name for the call (``get_generation.
completed``, ``search_gammas.http403``): the part before the first dot says which call, the next
part which outcome, and :data:`SCENARIOS` puts the emulator in the state that gives that outcome.
``body`` is a sample answer with values, or a shape (``{"id": "string"}``) as the live check's
transcripts hold them: those are compared but not parsed, and their request (shapes too) is sent with
:data:`DEFAULT_REQUESTS` instead, so an answer that a request's values cause (a 400) needs a sample.
A new fixture is a new file; a divergence between the emulator and Gamma is a failing test.
"""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_gamma import exceptions, protocol
from airflow_provider_gamma.exceptions import GammaError
from airflow_provider_gamma.protocol import ApiRequest, ApiResponse
from airflow_provider_gamma.testing import FAIL_MARKER, GammaEmulator
from airflow_provider_gamma.testing.shape import Shape, differences, is_shape, relaxed, shape

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))
#: Ids put in a fixture's path placeholders when its answer is read by the protocol module.
SAMPLE_IDS = {
    "generationId": "gen_abc123",
    "gammaId": "g_l0mf2jvf1fpmi1v",
    "exportId": "exp_abc123",
    "editId": "V1StGXR8Z5jdHi6B",
}
#: What reads each call's 2xx answer, and the TypedDict whose required keys it must hold.
READERS: dict[str, tuple[Callable[[ApiRequest, Any], Any], Any]] = {
    "create_generation": (protocol.read_generation_created, protocol.GenerationCreated),
    "create_generation_from_template": (protocol.read_generation_created, protocol.GenerationCreated),
    "create_agent_generation": (protocol.read_generation_created, protocol.GenerationCreated),
    "get_generation": (protocol.read_generation, protocol.Generation),
    "get_agent_generation": (protocol.read_generation, protocol.Generation),
    "list_themes": (protocol.read_page, protocol.Page),
    "list_folders": (protocol.read_page, protocol.Page),
    "search_gammas": (protocol.read_search, None),
    "get_gamma": (protocol.read_gamma, protocol.Gamma),
    "export_gamma": (protocol.read_export_created, None),
    "get_export": (protocol.read_export, protocol.Export),
    "archive_gamma": (lambda request, body: body, protocol.ArchiveResult),
    "delete_gamma": (lambda request, body: body, protocol.DeleteResult),
    "create_upload": (protocol.read_upload, protocol.Upload),
    "create_edit": (protocol.read_edit_created, protocol.EditCreated),
    "get_edit": (protocol.read_edit, protocol.Edit),
    "get_gamma_analytics": (protocol.read_gamma_analytics, protocol.GammaAnalytics),
    "get_card_analytics": (protocol.read_card_analytics, protocol.CardAnalytics),
    "get_viewer_analytics": (protocol.read_viewer_page, protocol.ViewerPage),
    "search_templates": (protocol.read_template_search, protocol.TemplateSearch),
}
#: Raw (not JSON) request bodies, sent as ``application/octet-stream``.
RAW_BODIES: dict[str, bytes] = {"create_upload": b"week,revenue\n49,1200\n"}
#: Requests sent to the emulator where a fixture holds shapes instead of values (a live transcript).
DEFAULT_REQUESTS: dict[str, dict[str, Any]] = {
    "create_generation": {"body": {"inputText": "A one-card deck", "textMode": "preserve", "numCards": 1}},
    "create_generation_from_template": {"body": {"gammaId": "g_abcdef123456ghi", "prompt": "Adapt it"}},
    "create_agent_generation": {"body": {"prompt": "A one-card note", "numCards": 1, "quality": "lite"}},
    "export_gamma": {"body": {"exportAs": "pdf"}},
    "list_themes": {"query": {"limit": "50"}},
    "list_folders": {"query": {"limit": "50"}},
}


def load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


# --- the emulator, put in the state each outcome needs ------------------------------------------------


class Emulated:
    """One emulator and a client of it."""

    def __init__(self, emu: GammaEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["X-API-KEY"] = emu.api_key

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.emu.base_url + path, timeout=10, **kwargs)

    def generation(self, *, agent: bool, export: bool, fail: bool = False, seconds: float = 0.0) -> str:
        text = f"[[emulator:seconds={seconds}]] How tides work {FAIL_MARKER if fail else ''}"
        body = {"prompt": text} if agent else {"inputText": text, "textMode": "generate"}
        if export:
            body["exportAs"] = "pdf"
        answer = self.send("POST", "/v1.0/agent/generations" if agent else "/v1.0/generations", json=body)
        assert answer.ok, answer.text
        return str(answer.json()["generationId"])

    def gamma(self) -> str:
        generation_id = self.generation(agent=False, export=False)
        return str(self.send("GET", f"/v1.0/generations/{generation_id}").json()["gammaId"])


#: What a scenario does: puts the emulator in the state the outcome needs and returns the ids to put in
#: the request's path (and may change the request, e.g. a search's time window).
Scenario = Callable[[Emulated, str, dict[str, Any], dict[str, Any]], dict[str, str]]


def a_generation(agent: bool) -> Scenario:
    def scenario(
        em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]
    ) -> dict[str, str]:
        if outcome == "http404":
            return {"generationId": "gen_missing" if agent else "missing"}
        if outcome == "pending":
            seconds = 1.0 if "gamma" in expected else 30.0
            generation_id = em.generation(agent=agent, export=False, seconds=seconds)
            time.sleep(0.6 if "gamma" in expected else 0.0)  # past half-way: the document exists
            return {"generationId": generation_id}
        generation_id = em.generation(agent=agent, export="exportUrl" in expected, fail=outcome == "failed")
        return {"generationId": generation_id}

    return scenario


def a_gamma(em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]) -> dict[str, str]:
    return {"gammaId": em.gamma()}


def an_export(
    em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]
) -> dict[str, str]:
    if outcome == "failed":
        em.emu.fail_next_export(reason="render_timeout")
    answer = em.send("POST", f"/v1.0/gammas/{em.gamma()}/export", json={"exportAs": "pdf"})
    if outcome != "pending":
        time.sleep(0.4)  # the emulator's exports take export_seconds (0.3 here)
    return {"exportId": str(answer.json()["exportId"])}


def a_search(em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]) -> dict[str, str]:
    if outcome == "http403":
        em.emu.search_enabled = False
        return {}
    em.gamma()  # titled "How tides work"
    now = datetime.now(UTC)
    query = request["query"]
    query["q"] = "tides"
    for name, moment in (
        ("updatedAfter", now - timedelta(hours=1)),
        ("updatedBefore", now + timedelta(hours=1)),
    ):
        if name in query:
            query[name] = moment.isoformat()
    if "createdBy" in query:
        query["createdBy"] = "me"
    if "limit" in query:
        query["limit"] = "5"
    return {}


def out_of_credits(
    em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]
) -> dict[str, str]:
    if outcome == "http403":
        em.emu.credits = 0
    return {}


def an_edit(em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]) -> dict[str, str]:
    """A gamma, with an edit already running for ``create_edit.http409``; an edit in the state the
    outcome names for ``get_edit``."""
    gamma_id = em.gamma()
    if outcome not in ("http409", "pending", "completed", "failed"):
        return {"gammaId": gamma_id}
    running = em.send("POST", f"/v1.0/agent/gammas/{gamma_id}/edits", json={"prompt": "Add the figures"})
    edit_id = str(running.json()["editId"])
    if outcome == "completed":
        em.emu.complete_edit(edit_id)
    elif outcome == "failed":
        em.emu.fail_edit(edit_id)
    return {"gammaId": gamma_id, "editId": edit_id}


def analytics(
    em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]
) -> dict[str, str]:
    gamma_id = em.gamma()
    em.emu.set_viewer_count(gamma_id, 30)  # pages of 10 hold signed-in and anonymous viewers
    if outcome == "http403":
        em.emu.analytics_access = "none"
    return {"gammaId": gamma_id}


SCENARIOS: dict[str, Scenario] = {
    "get_generation": a_generation(agent=False),
    "get_agent_generation": a_generation(agent=True),
    "get_gamma": a_gamma,
    "archive_gamma": a_gamma,
    "delete_gamma": a_gamma,
    "export_gamma": a_gamma,
    "get_export": an_export,
    "search_gammas": a_search,
    "create_generation": out_of_credits,
    "create_edit": an_edit,
    "get_edit": an_edit,
    "get_gamma_analytics": analytics,
    "get_card_analytics": analytics,
    "get_viewer_analytics": analytics,
}


def no_state(em: Emulated, outcome: str, request: dict[str, Any], expected: dict[str, Any]) -> dict[str, str]:
    return {}


def emulator_answer(emu: GammaEmulator, fixture: dict[str, Any]) -> tuple[ApiRequest, requests.Response]:
    """The emulator's answer to the fixture's call, in the state the call's outcome needs."""
    call, _, outcome = fixture["call"].partition(".")
    outcome = outcome.split(".")[0]
    request = {key: value for key, value in fixture["request"].items() if not is_shape(value)}
    for part, value in DEFAULT_REQUESTS.get(call, {}).items():
        request.setdefault(part, value)
    request["query"] = dict(request.get("query") or {})
    expected = fixture["body"] if isinstance(fixture["body"], dict) else {}
    em = Emulated(emu)
    ids = SCENARIOS.get(call, no_state)(em, outcome, request, expected)
    path = fixture["request"]["path"].format(**ids)
    headers = {"X-API-KEY": "sk-gamma-wrong"} if outcome == "http401" else {}
    raw = RAW_BODIES.get(call)
    if raw is not None:
        headers["Content-Type"] = "application/octet-stream"
    answer = em.send(
        request["method"],
        path,
        params=request["query"] or None,
        json=request.get("body"),
        data=raw,
        headers=headers,
    )
    api_request = ApiRequest(request["method"], path, params=request["query"], json=request.get("body"))
    return api_request, answer


# --- reading an answer as the provider does ------------------------------------------------------------


def read(request: ApiRequest, status: int, body: Any, call: str) -> Any:
    """The answer as the provider reads it: the reader's result, or the typed error it raises."""
    response = ApiResponse(status, {"x-request-id": "rq-contract"}, json.dumps(body).encode())
    try:
        payload = protocol.parse_response(request, response)
    except GammaError as error:
        return error
    reader, _ = READERS[call.partition(".")[0]]
    return reader(request, payload)


def check_read(fixture: dict[str, Any], result: Any) -> None:
    """What reading Gamma's own answer must give: the documented error class, or every field kept."""
    body, call = fixture["body"], fixture["call"].partition(".")[0]
    if "raises" in fixture:
        assert type(result).__name__ == fixture["raises"], f"read as {result!r}"
        return
    assert not isinstance(result, GammaError), f"Gamma's documented answer was refused: {result}"
    _, model = READERS[call]
    if isinstance(result, dict):
        assert set(body) <= set(result), f"fields lost in reading: {set(body) - set(result)}"
        assert required_keys(model) <= set(result), f"{model.__name__} requires {required_keys(model)}"
    if call == "search_gammas":
        assert len(result) == len(body["hits"]), "a documented hit was dropped"
    if call == "export_gamma":
        assert result == body["exportId"]
    if isinstance(body.get("gamma"), dict):  # the agent's deck, as gamma.gammaId/gammaUrl
        assert (result["gammaId"], result["gammaUrl"]) == (
            body["gamma"]["gammaId"],
            body["gamma"]["gammaUrl"],
        )


def required_keys(model: Any) -> set[str]:
    """A TypedDict's required keys (``__required_keys__`` misses ``NotRequired`` under postponed
    annotations before Python 3.12)."""
    hints = typing.get_type_hints(model, include_extras=True)
    return {key for key, hint in hints.items() if typing.get_origin(hint) is not typing.NotRequired}


def nonempty_arrays(tree: Shape, path: str = "$") -> Iterator[str]:
    """Paths of the arrays that hold items (an empty array would make a key-for-key check vacuous)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from nonempty_arrays(value, f"{path}.{key}")
    elif isinstance(tree, list) and tree:
        yield f"{path}[]"
        yield from nonempty_arrays(tree[0], f"{path}[]")


# --- the test -------------------------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=0.0, export_seconds=0.3) as emulator:
        yield emulator


@pytest.mark.parametrize("path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_gamma_and_the_emulator_answer_alike(path: Path, emu: GammaEmulator) -> None:
    fixture = load(path)
    assert {"source", "date", "call", "request", "status", "body"} <= set(fixture), "an incomplete fixture"
    assert fixture["call"].partition(".")[0] in READERS, f"no reader for {fixture['call']!r}"
    if "raises" in fixture:
        assert issubclass(getattr(exceptions, fixture["raises"]), GammaError)
    expected = fixture["body"] if is_shape(fixture["body"]) else shape(fixture["body"])
    for kind in ("loose", "optional"):
        for where in fixture.get(kind, ()):  # a stale path would quietly compare less
            assert relaxed(expected, **{kind: [where]}) != expected, f"{kind} path {where} is not in the body"

    # Gamma's answer, read by the protocol module (a transcript's shapes hold no values to read)
    sample = ApiRequest(
        fixture["request"]["method"],
        fixture["request"]["path"].format(**SAMPLE_IDS),
        params=fixture["request"].get("query") or {},
        json=fixture["request"].get("body"),
    )
    if not is_shape(fixture["body"]):
        check_read(fixture, read(sample, fixture["status"], fixture["body"], fixture["call"]))

    # the emulator's answer to the same call: same status, same keys and types, read the same way
    request, answer = emulator_answer(emu, fixture)
    assert answer.status_code == fixture["status"], answer.text
    settle = {"loose": fixture.get("loose", ()), "optional": fixture.get("optional", ())}
    found = differences(relaxed(expected, **settle), relaxed(shape(answer.json()), **settle))
    assert not found, "the emulator's answer differs from Gamma's:\n" + "\n".join(found)
    missing = set(nonempty_arrays(expected)) - set(nonempty_arrays(shape(answer.json())))
    assert not missing, f"the emulator answered empty arrays at {sorted(missing)}: nothing was compared there"
    emulated = read(request, answer.status_code, answer.json(), fixture["call"])
    if "raises" in fixture:
        assert type(emulated).__name__ == fixture["raises"], f"the emulator's answer reads as {emulated!r}"
    else:
        assert not isinstance(emulated, GammaError), emulated
