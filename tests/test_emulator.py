# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Tests of the Gamma API emulator itself, over real HTTP."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_gamma.testing import FAIL_MARKER, GammaEmulator

pytest_plugins = ["airflow_provider_gamma.testing.pytest_plugin"]

KEY = "sk-gamma-test"
RATE_HEADERS = (
    "x-ratelimit-limit-burst",
    "x-ratelimit-remaining-burst",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-limit-daily",
    "x-ratelimit-remaining-daily",
)


@pytest.fixture
def emu() -> Iterator[GammaEmulator]:
    with GammaEmulator(api_key=KEY, generation_seconds=0.2) as emulator:
        yield emulator


class Client:
    """Tiny requests wrapper bound to one emulator."""

    def __init__(self, emulator: GammaEmulator) -> None:
        self.emu = emulator
        self.session = requests.Session()
        self.session.headers["X-API-KEY"] = emulator.api_key

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.emu.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.emu.base_url + path, json=body, timeout=10, **kwargs)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.emu.base_url + path, timeout=10)

    def generate(self, **fields: Any) -> str:
        body = {"inputText": "Best hikes in the United States", "textMode": "generate", **fields}
        response = self.post("/v1.0/generations", body)
        assert response.status_code == 200, response.text
        return str(response.json()["generationId"])

    def wait(self, generation_id: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            payload: dict[str, Any] = self.get(f"/v1.0/generations/{generation_id}").json()
            if payload["status"] != "pending":
                return payload
            time.sleep(0.05)
        raise AssertionError("generation did not finish")


@pytest.fixture
def client(emu: GammaEmulator) -> Client:
    return Client(emu)


def error_message(response: requests.Response) -> str:
    body = response.json()
    assert body["statusCode"] == response.status_code
    return str(body["message"])


# ------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1.0/themes"),
        ("GET", "/v1.0/generations/abc"),
        ("POST", "/v1.0/generations"),
        ("GET", "/v1.0/does-not-exist"),
        ("DELETE", "/v1.0/gammas/g_x"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "sk-gamma-wrong"}, {"Authorization": f"Bearer {KEY}"}])
def test_bad_or_missing_key_is_401_everywhere(
    emu: GammaEmulator, method: str, path: str, headers: dict[str, str]
) -> None:
    response = requests.request(method, emu.base_url + path, headers=headers, json={}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid API key.", "statusCode": 401}
    assert response.headers["x-request-id"]
    for name in RATE_HEADERS:
        assert name in response.headers
    assert emu.requests[-1].status == 401


def test_header_name_is_case_insensitive(emu: GammaEmulator) -> None:
    response = requests.get(emu.base_url + "/v1.0/themes", headers={"x-api-key": KEY}, timeout=10)
    assert response.status_code == 200


def test_unknown_route_is_404_cannot_method(client: Client) -> None:
    response = client.get("/v1.0/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"message": "Cannot GET /v1.0/nothing/here", "statusCode": 404}
    assert error_message(client.delete("/v1.0/generations")) == "Cannot DELETE /v1.0/generations"


def test_request_ids_are_unique_and_recorded(client: Client, emu: GammaEmulator) -> None:
    ids = {client.get("/v1.0/themes").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert {r.request_id for r in emu.requests} == ids


# -------------------------------------------------------------------------------- generations


def test_generation_pending_then_completed(client: Client, emu: GammaEmulator) -> None:
    generation_id = client.generate(numCards=4, exportAs="pdf")
    first = client.get(f"/v1.0/generations/{generation_id}")
    assert first.status_code == 200
    assert first.json() == {"generationId": generation_id, "status": "pending"}
    done = client.wait(generation_id)
    assert done["status"] == "completed"
    assert done["gammaId"].startswith("g_")
    assert done["gammaUrl"].startswith("https://gamma.app/docs/")
    assert done["credits"] == {"deducted": 8, "remaining": 10_000 - 8}
    assert done["exportUrl"].startswith(emu.export_base_url + f"/export/{done['gammaId']}.pdf?")
    assert emu.credits == 10_000 - 8
    state = emu.generations[generation_id]
    assert state.status == "completed"
    assert state.num_cards == 4
    assert state.export_as == "pdf"
    assert state.gamma_id == done["gammaId"]
    assert state.request["inputText"] == "Best hikes in the United States"
    assert emu.post_count() == 1


def test_no_export_url_without_export_as(client: Client) -> None:
    done = client.wait(client.generate())
    assert done["status"] == "completed"
    assert "exportUrl" not in done
    assert done["credits"]["deducted"] == 20  # default 10 cards x 2 credits


def test_card_split_on_input_text_breaks(client: Client, emu: GammaEmulator) -> None:
    generation_id = client.generate(
        inputText="One\n---\nTwo\n---\nThree", cardSplit="inputTextBreaks", numCards=9
    )
    assert emu.generations[generation_id].num_cards == 3


def test_unknown_generation_is_404(client: Client) -> None:
    response = client.get("/v1.0/generations/nope123")
    assert response.status_code == 404
    assert response.json() == {"message": "Generation ID not found. generationId: nope123", "statusCode": 404}


def test_fail_marker_makes_generation_fail(client: Client, emu: GammaEmulator) -> None:
    done = client.wait(client.generate(inputText=f"Deck {FAIL_MARKER}", exportAs="pdf"))
    assert done["status"] == "failed"
    assert done["error"] == {"message": "An error occurred while generating the gamma.", "statusCode": 500}
    assert done["credits"]["deducted"] == 0
    assert "exportUrl" not in done
    assert "gammaId" not in done
    assert emu.credits == 10_000


def test_fail_next_generation_and_fail_generation(client: Client, emu: GammaEmulator) -> None:
    emu.fail_next_generation(message="Failed to generate text.", status_code=422)
    done = client.wait(client.generate())
    assert done["error"] == {"message": "Failed to generate text.", "statusCode": 422}
    assert client.wait(client.generate())["status"] == "completed"

    emu.generation_seconds = 60
    pending = client.generate()
    emu.fail_generation(pending, message="boom")
    assert client.get(f"/v1.0/generations/{pending}").json()["error"]["message"] == "boom"
    with pytest.raises(ValueError, match="already failed"):
        emu.fail_generation(pending)
    slow = client.generate()
    emu.complete_generation(slow)
    assert client.get(f"/v1.0/generations/{slow}").json()["status"] == "completed"


def test_seconds_marker_overrides_duration(client: Client, emu: GammaEmulator) -> None:
    generation_id = client.generate(inputText="Slow one [[emulator:seconds=30]]")
    time.sleep(0.3)
    assert client.get(f"/v1.0/generations/{generation_id}").json()["status"] == "pending"
    assert emu.generations[generation_id].title == "Slow one"


def test_insufficient_credits_is_403(client: Client, emu: GammaEmulator) -> None:
    emu.credits = 5
    response = client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate", "numCards": 3})
    assert response.status_code == 403
    assert response.json() == {"message": "Insufficient credits remaining", "statusCode": 403}
    assert emu.generations == {}
    client.generate(numCards=2)  # 4 credits: allowed


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"textMode": "generate"}, ["inputText should not be empty"]),
        (
            {"inputText": ""},
            ["inputText should not be empty", "textMode must be one of: generate, condense, preserve"],
        ),
        (
            {"inputText": "x" * 400_001, "textMode": "generate"},
            ["inputText must be shorter than or equal to 400000"],
        ),
        (
            {"inputText": "x", "textMode": "Generate"},
            ["textMode must be one of: generate, condense, preserve"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "format": "Presentation"},
            ["format must be one of: presentation, document, social, webpage"],
        ),
        ({"inputText": "x", "textMode": "generate", "numCards": 0}, ["numCards must not be less than 1"]),
        (
            {"inputText": "x", "textMode": "generate", "numCards": 61},
            ["numCards must not be greater than 60"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "cardSplit": "pages"},
            ["cardSplit must be one of: auto"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "exportAs": "docx"},
            ["exportAs must be one of: pdf, pptx, png"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "additionalInstructions": "y" * 5001},
            ["additionalInstructions must be shorter than or equal to 5000 characters"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "folderIds": ["f1", "f2"]},
            ["folderIds must contain no more than 1 elements"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "textOptions": {"amount": "huge", "language": "xx"}},
            [
                "textOptions.amount must be one of: brief, medium",
                "textOptions.language must be one of: en, en-gb",
            ],
        ),
        (
            {"inputText": "x", "textMode": "generate", "imageOptions": {"source": "unsplash"}},
            ["imageOptions.source must be one of: aiGenerated"],
        ),
        (
            {"inputText": "x", "textMode": "generate", "cardOptions": {"dimensions": "2x1"}},
            ["cardOptions.dimensions must be one of: fluid, 16x9"],
        ),
        (
            {
                "inputText": "x",
                "textMode": "generate",
                "cardOptions": {"headerFooter": {"topLeft": {"type": "text"}, "hideFromFirstCard": "true"}},
            },
            [
                "cardOptions.headerFooter.hideFromFirstCard must be a boolean value",
                "cardOptions.headerFooter.topLeft.value should not be empty",
            ],
        ),
        (
            {
                "inputText": "x",
                "textMode": "generate",
                "sharingOptions": {"externalAccess": "fullAccess", "emailOptions": {"recipients": []}},
            },
            [
                "sharingOptions.externalAccess must be one of: noAccess, view, comment, edit",
                "sharingOptions.emailOptions.recipients must contain at least 1 elements",
            ],
        ),
        (
            {"inputText": "x", "textMode": "generate", "themeName": "Oasis"},
            ["property themeName should not exist"],
        ),
    ],
)
def test_generation_validation_errors(
    client: Client, emu: GammaEmulator, body: Any, expected: list[str]
) -> None:
    response = client.post("/v1.0/generations", body)
    assert response.status_code == 400
    message = error_message(response)
    assert message.startswith("Input validation errors: 1. ")
    for fragment in expected:
        assert fragment in message
    assert emu.generations == {}


def test_validation_numbers_each_error(client: Client) -> None:
    message = error_message(client.post("/v1.0/generations", {"format": "x"}))
    assert message == (
        "Input validation errors: 1. inputText should not be empty "
        "2. textMode must be one of: generate, condense, preserve "
        "3. format must be one of: presentation, document, social, webpage"
    )
    assert error_message(client.post("/v1.0/generations", ["not", "an", "object"])).startswith(
        "Input validation errors: 1. "
    )


def test_full_documented_example_is_accepted(client: Client) -> None:
    body = {
        "inputText": "Best hikes in the United States",
        "textMode": "generate",
        "format": "presentation",
        "themeId": "oasis",
        "numCards": 10,
        "cardSplit": "auto",
        "additionalInstructions": "Make the titles catchy",
        "folderIds": ["fold0000marketin"],
        "exportAs": "pdf",
        "textOptions": {"amount": "detailed", "tone": "inspiring", "audience": "hikers", "language": "en"},
        # the documented example's "imagen-4-pro" was retired on 2026-09-10 (see the test below)
        "imageOptions": {"source": "aiGenerated", "model": "flux-2-pro", "style": "photorealistic"},
        "cardOptions": {
            "dimensions": "16x9",
            "headerFooter": {
                "topRight": {"type": "image", "source": "themeLogo", "size": "sm"},
                "bottomRight": {"type": "cardNumber"},
                "hideFromFirstCard": True,
                "hideFromLastCard": False,
            },
        },
        "sharingOptions": {
            "workspaceAccess": "view",
            "externalAccess": "noAccess",
            "emailOptions": {"recipients": ["someone@example.com"], "access": "comment"},
        },
    }
    response = client.post("/v1.0/generations", body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"generationId"}


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        (
            {"cardOptions": {"dimensions": "1x1"}},
            "cardOptions.dimensions 1x1 is not valid for format presentation. Valid dimensions are: "
            "[ 16x9, 4x3, fluid ]. Using default: fluid.",
        ),
        (
            {"imageOptions": {"source": "pexels", "model": "flux-2-pro"}},
            "imageOptions.model and imageOptions.style are ignored when imageOptions.source is not aiGenerated.",
        ),
        (
            {"textMode": "preserve", "textOptions": {"amount": "brief"}},
            "textOptions.amount and textOptions.tone are ignored when textMode is preserve.",
        ),
    ],
)
def test_documented_warnings(client: Client, emu: GammaEmulator, extra: dict[str, Any], warning: str) -> None:
    response = client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate", **extra})
    assert response.status_code == 200
    assert response.json()["warnings"] == warning
    assert emu.generations[response.json()["generationId"]].warnings == warning


# ---------------------------------------------------------------------------------- templates


def test_from_template(client: Client, emu: GammaEmulator) -> None:
    source = client.wait(client.generate(numCards=3))
    response = client.post(
        "/v1.0/generations/from-template",
        {
            "gammaId": source["gammaId"],
            "prompt": "Adapt for Acme",
            "exportAs": "pptx",
            "imageOptions": {"model": "flux-2-pro"},
        },
    )
    assert response.status_code == 200, response.text
    generation_id = response.json()["generationId"]
    done = client.wait(generation_id)
    assert done["status"] == "completed"
    assert done["exportUrl"].split("?")[0].endswith(".pptx")
    state = emu.generations[generation_id]
    assert state.kind == "template"
    assert state.num_cards == 3
    assert state.template_gamma_id == source["gammaId"]
    assert emu.post_count("/v1.0/generations/from-template") == 1


def test_from_template_errors(client: Client) -> None:
    missing = client.post("/v1.0/generations/from-template", {})
    assert missing.status_code == 400
    assert error_message(missing) == (
        "Input validation errors: 1. gammaId should not be empty 2. prompt should not be empty"
    )
    unknown = client.post("/v1.0/generations/from-template", {"gammaId": "My-Doc-bc7s74", "prompt": "x"})
    assert unknown.status_code == 400
    assert unknown.json() == {"message": "Invalid request or template not found", "statusCode": 400}
    extra = client.post("/v1.0/generations/from-template", {"gammaId": "g_x", "prompt": "x", "numCards": 3})
    assert error_message(extra) == "Input validation errors: 1. property numCards should not exist"


# ---------------------------------------------------------------------------- themes & folders


def collect(client: Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if after:
            query["after"] = after
        body = client.get(path, params=query).json()
        assert set(body) == {"data", "hasMore", "nextCursor"}
        items.extend(body["data"])
        pages += 1
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            return items
        assert isinstance(body["nextCursor"], str)
        after = body["nextCursor"]
        assert pages < 100


def test_themes_pagination_and_shape(client: Client) -> None:
    first = client.get("/v1.0/themes").json()
    assert len(first["data"]) == 20
    assert first["hasMore"] is True
    themes = collect(client, "/v1.0/themes")
    assert len(themes) == 40
    assert len({t["id"] for t in themes}) == 40
    for theme in themes:
        assert set(theme) == {"id", "name", "type", "colorKeywords", "toneKeywords"}
        assert theme["type"] in ("standard", "custom")
    assert collect(client, "/v1.0/themes", limit=7) == themes
    assert collect(client, "/v1.0/themes", limit=50) == themes


def test_themes_query_and_type_filters(client: Client) -> None:
    dark = collect(client, "/v1.0/themes", query="DARK", limit=1)
    assert [t["name"] for t in dark] == ["Standard Dark", "Gamma Dark"]
    custom = collect(client, "/v1.0/themes", type="custom")
    assert custom
    assert all(t["type"] == "custom" for t in custom)
    assert client.get("/v1.0/themes", params={"query": "no such theme"}).json() == {
        "data": [],
        "hasMore": False,
        "nextCursor": None,
    }


def test_folders_pagination(client: Client) -> None:
    folders = collect(client, "/v1.0/folders", limit=10)
    assert len(folders) == 25
    assert all(set(f) == {"id", "name"} for f in folders)
    assert [f["name"] for f in collect(client, "/v1.0/folders", query="market")] == ["Marketing"]


def test_custom_catalogs() -> None:
    with GammaEmulator(themes=[], folders=[{"id": "f1", "name": "Only"}]) as emulator:
        c = Client(emulator)
        assert c.get("/v1.0/themes").json() == {"data": [], "hasMore": False, "nextCursor": None}
        assert c.get("/v1.0/folders").json()["data"] == [{"id": "f1", "name": "Only"}]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": "0"}, "limit must not be less than 1"),
        ({"limit": "51"}, "limit must not be greater than 50"),
        ({"limit": "abc"}, "limit must be a number"),
        ({"after": "garbage"}, "after must be a valid cursor"),
    ],
)
@pytest.mark.parametrize("path", ["/v1.0/themes", "/v1.0/folders"])
def test_list_parameter_errors(client: Client, path: str, params: dict[str, str], fragment: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert fragment in error_message(response)


# ---------------------------------------------------------------------------- archive & delete


def test_archive_is_idempotent_and_needs_a_known_gamma(client: Client, emu: GammaEmulator) -> None:
    done = client.wait(client.generate())
    gamma_id = done["gammaId"]
    for _ in range(2):
        response = client.post(f"/v1.0/gammas/{gamma_id}/archive")
        assert response.status_code == 200
        assert response.json() == {"gammaId": gamma_id, "archived": True}
    assert emu.generations[done["generationId"]].archived is True
    slug = client.post("/v1.0/gammas/My-Doc-bc7s74ruzod20f4/archive")
    assert slug.status_code == 403
    assert error_message(slug) == "Access denied - edit permission required"


def test_delete(client: Client, emu: GammaEmulator) -> None:
    done = client.wait(client.generate(exportAs="pdf"))
    gamma_id = done["gammaId"]
    response = client.delete(f"/v1.0/gammas/{gamma_id}")
    assert response.status_code == 200
    assert response.json() == {"status": "deleted", "gammaId": gamma_id, "message": "Gamma deleted"}
    again = client.delete(f"/v1.0/gammas/{gamma_id}")
    assert again.status_code == 404
    assert client.get(f"/v1.0/generations/{done['generationId']}").json()["status"] == "completed"
    assert client.post(f"/v1.0/gammas/{gamma_id}/archive").status_code == 403
    assert requests.get(done["exportUrl"], timeout=10).status_code == 404
    unknown = client.delete("/v1.0/gammas/g_unknownunknown")
    assert unknown.status_code == 403
    assert error_message(unknown) == "Access denied - workspace admin role required"
    assert emu.generations[done["generationId"]].deleted is True


# ------------------------------------------------------- the newer endpoints (gamma-api.md §18b)

AGENT = "/v1.0/agent/generations"
SEARCH = "/v1.0/gammas/search"


@pytest.mark.parametrize("model", ["imagen-3-flash", "imagen-3-pro", "imagen-4-pro", "imagen-4-ultra"])
def test_retired_imagen_models_are_refused(client: Client, model: str) -> None:
    response = client.post(
        "/v1.0/generations", {"inputText": "x", "textMode": "generate", "imageOptions": {"model": model}}
    )
    assert response.status_code == 400
    assert "imageOptions.model must be one of" in error_message(response)


def test_the_agent_post_answers_202(client: Client) -> None:
    upload = client.session.post(
        client.emu.base_url + "/v1.0/uploads",
        data=b"a,b\n1,2\n",
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    response = client.post(AGENT, {"prompt": "A deck", "numCards": 3, "files": [upload.json()["uploadId"]]})
    assert response.status_code == 202
    assert response.json()["generationId"].startswith("gen_")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"prompt": "x", "title": "Mine"}, "property title should not exist"),
        ({"prompt": "x", "textMode": "generate"}, "property textMode should not exist"),
        ({"prompt": "x", "quality": None}, "quality should not be null"),
        (
            {"prompt": "x", "sharingOptions": {"emailOptions": None}},
            "sharingOptions.emailOptions should not be null",
        ),
        ({"format": "presentation"}, "prompt should not be empty"),
    ],
)
def test_the_agent_refuses_unknown_keys_nulls_and_classic_fields(
    client: Client, body: dict[str, Any], fragment: str
) -> None:
    response = client.post(AGENT, body)
    assert response.status_code == 400
    assert fragment in error_message(response)


def test_the_agent_refuses_classic_fields_even_where_unknown_keys_pass() -> None:
    with GammaEmulator(reject_unknown_fields=False) as lenient:
        lenient_client = Client(lenient)
        assert lenient_client.post(AGENT, {"prompt": "x", "anything": 1}).status_code == 202
        refused = lenient_client.post(AGENT, {"prompt": "x", "themeId": "oasis"})
        assert refused.status_code == 400
        assert "property themeId should not exist" in error_message(refused)


def test_an_agent_run_shows_its_deck_as_gamma_gammaid_already_while_pending(client: Client) -> None:
    generation_id = client.post(AGENT, {"prompt": "[[emulator:seconds=1]] A deck"}).json()["generationId"]
    path = f"{AGENT}/{generation_id}"
    planning = client.get(path).json()
    assert set(planning) == {"generationId", "status", "progress"}  # no document yet, so no gamma
    assert planning["status"] == "pending"
    time.sleep(0.6)  # past half-way: the document exists
    pending = client.get(path).json()
    assert pending["status"] == "pending"
    assert set(pending["gamma"]) == {"gammaId", "gammaUrl"}
    assert "credits" not in pending
    deadline = time.monotonic() + 5
    while (done := client.get(path).json())["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done["gamma"] == pending["gamma"]
    assert set(done) == {"generationId", "status", "gamma", "result", "credits"}
    assert client.get(f"/v1.0/generations/{generation_id}").status_code == 404  # not a classic id


def search(client: Client, **params: Any) -> requests.Response:
    return client.get(SEARCH, params=params)


def test_search_answers_hits_with_the_documented_fields_and_no_cursor(client: Client) -> None:
    done = client.wait(client.generate(inputText="# Quarterly tides\nbody"))
    answer = search(client, q="tides", limit=25)
    assert answer.status_code == 200
    assert set(answer.json()) == {"hits"}  # no cursor: Gamma documents none
    [hit] = answer.json()["hits"]
    assert set(hit) == {"id", "title", "url", "highlight", "createdBy", "updatedTime", "archived"}
    assert (hit["id"], hit["title"], hit["archived"]) == (done["gammaId"], "Quarterly tides", False)


def test_search_filters_by_creator_time_and_archive(client: Client) -> None:
    first = client.wait(client.generate(inputText="Alpha deck"))["gammaId"]
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    second = client.wait(client.generate(inputText="Beta deck"))["gammaId"]

    def ids(**params: Any) -> list[str]:
        response = search(client, **params)
        assert response.status_code == 200, response.text
        return [hit["id"] for hit in response.json()["hits"]]

    assert ids(createdBy="me") == [second, first]  # no query: newest update first
    assert ids(createdBy="emulator@example.com", q="alpha") == [first]
    assert ids(createdBy="someone@else.example") == []
    assert ids(updatedAfter=middle.isoformat()) == [second]
    assert ids(updatedBefore=middle.isoformat().replace("+00:00", "Z")) == [first]
    assert ids(createdBy="me", limit=1) == [second]
    client.post(f"/v1.0/gammas/{first}/archive")
    assert ids(createdBy="me") == [second]
    assert ids(createdBy="me", includeArchived="true") == [second, first]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": "x", "limit": "26"}, "limit must be an integer from 1 to 25"),
        ({"q": "x", "limit": "0"}, "limit must be an integer from 1 to 25"),
        ({"q": "x", "updatedAfter": "yesterday"}, "updatedAfter must be a valid ISO 8601 date string"),
        ({"q": " "}, "q must not be empty unless a filter is given"),
    ],
)
def test_search_parameter_errors(client: Client, params: dict[str, str], fragment: str) -> None:
    response = search(client, **params)
    assert response.status_code == 400
    assert fragment in error_message(response)


def test_a_workspace_without_search_gets_403(client: Client, emu: GammaEmulator) -> None:
    emu.search_enabled = False
    refused = search(client, q="x")
    assert refused.status_code == 403
    assert "not enabled" in error_message(refused)
    emu.search_enabled = True
    assert search(client, q="x").status_code == 200
    with GammaEmulator(search_enabled=False) as without:
        assert search(Client(without), q="x").status_code == 403


@pytest.mark.parametrize("searchable_while_pending", [False, True])
def test_whether_search_finds_a_deck_still_being_written_is_an_option(searchable_while_pending: bool) -> None:
    with GammaEmulator(searchable_while_pending=searchable_while_pending) as emulator:
        lookup = Client(emulator)
        generation_id = lookup.generate(inputText="[[emulator:seconds=1.2]] Half-written")
        gamma = f"/v1.0/gammas/{emulator.generations[generation_id].gamma_id}"
        assert search(lookup, q="Half-written").json()["hits"] == []  # no document yet
        assert lookup.get(gamma).status_code == 404
        time.sleep(0.75)  # past half-way: the document exists, the generation still runs
        hits = search(lookup, q="Half-written").json()["hits"]
        assert len(hits) == (1 if searchable_while_pending else 0)
        # What search shows can be read (a reconciling task reads it to see whether it still changes).
        assert lookup.get(gamma).status_code == (200 if searchable_while_pending else 404)
        assert lookup.wait(generation_id)["status"] == "completed"
        assert lookup.get(gamma).status_code == 200


def updated_times(client: Client, gamma_id: str, generation_id: str) -> tuple[list[datetime], datetime]:
    """Every ``updatedTime`` ``GET /v1.0/gammas/{id}`` answers while the generation is pending (each
    checked against the clock), then the first one once it completed."""
    seen: list[datetime] = []
    while True:
        finished = client.get(f"/v1.0/generations/{generation_id}").json()["status"] != "pending"
        asked = datetime.now(UTC)
        answer = client.get(f"/v1.0/gammas/{gamma_id}")
        if answer.status_code == 200:
            updated = datetime.fromisoformat(answer.json()["updatedTime"])
            assert updated <= asked + timedelta(seconds=0.05), "an updatedTime in the future"
            if finished:
                return seen, updated
            seen.append(updated)
        else:
            assert answer.status_code == 404  # before the document exists
            assert not seen
            assert not finished
        time.sleep(0.05)


def test_a_deck_being_written_is_updated_card_by_card_and_no_more_once_finished() -> None:
    """Gamma writes a deck card by card: a reconciling task tells a finished deck from one still
    being written only by its updatedTime standing still."""
    with GammaEmulator(searchable_while_pending=True) as emulator:
        client = Client(emulator)
        generation_id = client.generate(inputText="[[emulator:seconds=3]] Cards", numCards=4)
        generation = emulator.generations[generation_id]
        pending, final = updated_times(client, generation.gamma_id, generation_id)

        steps = sorted(set(pending))
        assert pending == sorted(pending)  # never backwards
        assert 3 <= len(steps) <= 5  # the document (half-way), then one step per card, not a clock
        assert steps[0] >= datetime.fromtimestamp(generation.created_at, UTC) + timedelta(seconds=1.4)
        assert final >= steps[-1]
        time.sleep(0.3)
        again = client.get(f"/v1.0/gammas/{generation.gamma_id}").json()["updatedTime"]
        assert datetime.fromisoformat(again) == final  # finished: it stays put
        [hit] = search(client, q="Cards").json()["hits"]
        assert datetime.fromisoformat(hit["updatedTime"]) == final


def test_a_gamma_still_being_written_can_be_read_but_not_exported_archived_or_deleted() -> None:
    """Only reading a gamma still being written is documented (search shows it, and the agent's answer
    names it): exporting, archiving, deleting or remixing it keep refusing it as an unknown gamma."""
    with GammaEmulator(searchable_while_pending=True) as emulator:
        client = Client(emulator)
        generation_id = client.generate(inputText="[[emulator:seconds=2]] Busy")
        gamma_id = emulator.generations[generation_id].gamma_id
        time.sleep(1.2)  # past half-way
        assert client.get(f"/v1.0/gammas/{gamma_id}").status_code == 200
        assert client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pdf"}).status_code == 404
        assert client.post(f"/v1.0/gammas/{gamma_id}/archive").status_code == 403
        assert client.delete(f"/v1.0/gammas/{gamma_id}").status_code == 403
        remix = client.post("/v1.0/generations/from-template", {"gammaId": gamma_id, "prompt": "Again"})
        assert remix.status_code == 400
        assert client.wait(generation_id)["status"] == "completed"
        assert client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pdf"}).status_code == 200


def test_a_pending_agent_answer_carries_progress_card_by_card() -> None:
    """The keys of ``progress`` are the emulator's guess (Gamma publishes none); its counts are not."""
    with GammaEmulator() as emulator:
        client = Client(emulator)
        answer = client.post(AGENT, {"prompt": "[[emulator:seconds=2]] A deck", "numCards": 4})
        path = f"{AGENT}/{answer.json()['generationId']}"
        answers = []
        while (polled := client.get(path).json())["status"] == "pending":
            answers.append(polled)
            time.sleep(0.05)

        progress = [a["progress"] for a in answers]
        assert all(set(p) == {"cardsCompleted", "totalCards", "percentComplete", "estimatedCompletionTime"}
                   for p in progress)  # fmt: skip
        assert {p["totalCards"] for p in progress} == {4}
        cards = [p["cardsCompleted"] for p in progress]
        assert cards == sorted(cards)
        assert cards[0] == 0  # the agent plans before it writes
        assert cards[-1] >= 2
        percent = [p["percentComplete"] for p in progress]
        assert percent == sorted(percent)
        assert 0 <= percent[0] < 50 <= percent[-1] <= 100
        assert len({p["estimatedCompletionTime"] for p in progress}) == 1
        expected = datetime.fromisoformat(progress[0]["estimatedCompletionTime"])
        assert abs((expected - datetime.now(UTC)).total_seconds()) < 1.0  # it just completed
        assert all("gamma" in a for a, p in zip(answers, progress, strict=True) if p["cardsCompleted"])
        assert "progress" not in polled


def test_get_gamma_answers_the_documented_fields(client: Client) -> None:
    done = client.wait(client.generate(themeId="oasis"))
    response = client.get(f"/v1.0/gammas/{done['gammaId']}")
    assert response.status_code == 200
    gamma = response.json()
    assert set(gamma) == {
        "id", "title", "type", "url", "thumbnailUrl", "description", "createdTime", "archived",
        "updatedTime", "author", "themeId",
    }  # fmt: skip
    assert (gamma["id"], gamma["type"], gamma["themeId"]) == (done["gammaId"], "regular", "oasis")
    assert gamma["author"]["name"]
    assert client.get("/v1.0/gammas/g_unknownunknown").status_code == 404


def test_an_archived_gamma_is_not_exported(client: Client) -> None:
    gamma_id = client.wait(client.generate())["gammaId"]
    assert client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pdf"}).status_code == 200
    client.post(f"/v1.0/gammas/{gamma_id}/archive")
    refused = client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pdf"})
    assert refused.status_code == 400
    assert "archived" in error_message(refused).lower()
    unknown = client.post("/v1.0/gammas/g_unknownunknown/export", {"exportAs": "pdf"})
    assert unknown.status_code == 404


def test_a_failed_export_carries_its_reason(client: Client, emu: GammaEmulator) -> None:
    gamma_id = client.wait(client.generate())["gammaId"]
    emu.fail_next_export(reason="deck_too_large", message="The deck is too large to export")
    export_id = client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pptx"}).json()["exportId"]
    time.sleep(0.6)
    failed = client.get(f"/v1.0/exports/{export_id}").json()
    assert failed == {
        "exportId": export_id,
        "exportAs": "pptx",
        "gammaId": gamma_id,
        "status": "failed",
        "error": {"message": "The deck is too large to export", "reason": "deck_too_large"},
    }
    again = client.post(f"/v1.0/gammas/{gamma_id}/export", {"exportAs": "pptx"}).json()["exportId"]
    time.sleep(0.6)
    assert client.get(f"/v1.0/exports/{again}").json()["status"] == "completed"


# ---------------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_decrease_and_429(emu: GammaEmulator) -> None:
    with GammaEmulator(
        burst_limit=5, burst_window_seconds=1.0, hourly_limit=100, daily_limit=1000
    ) as limited:
        c = Client(limited)
        remaining = []
        for _ in range(5):
            response = c.get("/v1.0/themes")
            assert response.status_code == 200
            assert response.headers["x-ratelimit-limit-burst"] == "5"
            assert response.headers["x-ratelimit-limit"] == "100"
            assert response.headers["x-ratelimit-limit-daily"] == "1000"
            remaining.append(
                (
                    int(response.headers["x-ratelimit-remaining-burst"]),
                    int(response.headers["x-ratelimit-remaining"]),
                    int(response.headers["x-ratelimit-remaining-daily"]),
                )
            )
        assert remaining == [(4, 99, 999), (3, 98, 998), (2, 97, 997), (1, 96, 996), (0, 95, 995)]
        limited_response = c.get("/v1.0/generations/whatever")
        assert limited_response.status_code == 429
        assert limited_response.json() == {"message": "Too many requests", "statusCode": 429}
        assert limited_response.headers["Retry-After"] == "1"
        assert limited_response.headers["x-ratelimit-remaining-burst"] == "0"
        # 401s do not count.
        assert requests.get(limited.base_url + "/v1.0/themes", timeout=10).status_code == 401
        time.sleep(1.05)
        response = c.get("/v1.0/themes")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining-burst"] == "4"
        assert response.headers["x-ratelimit-remaining"] == "94"


def test_rate_limit_without_retry_after() -> None:
    with GammaEmulator(burst_limit=1, rate_limit_retry_after=False) as limited:
        c = Client(limited)
        assert c.get("/v1.0/themes").status_code == 200
        response = c.get("/v1.0/themes")
        assert response.status_code == 429
        assert "Retry-After" not in response.headers


# -------------------------------------------------------------------------------------- exports


def check_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, size = 8, b"", (0, 0)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + chunk)
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height = size
    assert len(zlib.decompress(idat)) == (1 + 3 * width) * height
    return width, height


def export(client: Client, **fields: Any) -> tuple[str, dict[str, Any], requests.Response]:
    generation_id = client.generate(inputText="Quarterly Review\nDetails", **fields)
    done = client.wait(generation_id)
    return generation_id, done, requests.get(done["exportUrl"], timeout=10)


def test_pdf_export_is_real(client: Client, emu: GammaEmulator) -> None:
    pypdf = pytest.importorskip("pypdf")
    generation_id, _, response = export(client, numCards=3, exportAs="pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content == emu.export_bytes(generation_id)
    reader = pypdf.PdfReader(io.BytesIO(response.content), strict=True)
    assert len(reader.pages) == 3
    assert all("Quarterly Review" in page.extract_text() for page in reader.pages)


def test_pptx_export_is_real(client: Client, emu: GammaEmulator) -> None:
    pptx = pytest.importorskip("pptx")
    generation_id, _, response = export(client, numCards=4, exportAs="pptx")
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    assert response.content == emu.export_bytes(generation_id)
    deck = pptx.Presentation(io.BytesIO(response.content))
    assert len(deck.slides) == 4
    titles = [slide.shapes[0].text_frame.text for slide in deck.slides]
    assert titles[0] == "Quarterly Review"
    assert all("Quarterly Review" in t for t in titles)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_pptx_export_opens_in_libreoffice(client: Client, emu: GammaEmulator, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    _, _, response = export(client, numCards=3, exportAs="pptx")
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(response.content)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    reader = pypdf.PdfReader(tmp_path / "deck.pdf")
    assert len(reader.pages) == 3
    assert "Quarterly Review" in reader.pages[0].extract_text()


def test_png_export_is_zip_of_pngs(client: Client, emu: GammaEmulator) -> None:
    generation_id, done, response = export(client, numCards=3, exportAs="png")
    assert urlsplit(done["exportUrl"]).path.endswith(".zip")
    assert response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["card-01.png", "card-02.png", "card-03.png"]
    for name in archive.namelist():
        assert check_png(archive.read(name)) == (64, 36)
    assert response.content == emu.export_bytes(generation_id)


def test_export_is_deterministic_and_url_fresh_each_poll(client: Client, emu: GammaEmulator) -> None:
    generation_id, done, response = export(client, exportAs="pdf", numCards=2)
    time.sleep(1.01)
    again = client.get(f"/v1.0/generations/{generation_id}").json()
    assert again["exportUrl"] != done["exportUrl"]
    assert requests.get(again["exportUrl"], timeout=10).content == response.content


def test_export_host_never_sees_api_key(client: Client, emu: GammaEmulator) -> None:
    export(client, exportAs="pdf")
    assert emu.export_requests
    for record in emu.export_requests:
        assert "x-api-key" not in record.headers
        assert "authorization" not in record.headers
        assert record.host == "export"
        assert record.status == 200


def test_export_signature_and_expiry(client: Client, emu: GammaEmulator) -> None:
    generation_id, done, _ = export(client, exportAs="pdf")
    url = done["exportUrl"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    tampered = requests.get(base, params={**query, "signature": "0" * 64}, timeout=10)
    assert tampered.status_code == 403
    assert "<Code>AccessDenied</Code>" in tampered.text
    assert "statusCode" not in tampered.text
    extended = requests.get(base, params={**query, "expires": str(int(query["expires"]) + 1)}, timeout=10)
    assert extended.status_code == 403
    assert requests.get(base, timeout=10).status_code == 403
    expired = requests.get(emu.export_url(generation_id, ttl=-5), timeout=10)
    assert expired.status_code == 403
    assert "expired" in expired.text
    assert requests.get(emu.export_url(generation_id, ttl=60), timeout=10).status_code == 200
    with GammaEmulator(export_url_ttl=1) as short:
        c = Client(short)
        gid = c.generate(exportAs="pdf")
        short.complete_generation(gid)
        fresh = c.get(f"/v1.0/generations/{gid}").json()["exportUrl"]
        time.sleep(2.05)
        assert requests.get(fresh, timeout=10).status_code == 403
        refreshed = c.get(f"/v1.0/generations/{gid}").json()["exportUrl"]
        assert requests.get(refreshed, timeout=10).status_code == 200


def test_export_head_and_range(client: Client, emu: GammaEmulator) -> None:
    _, done, full = export(client, exportAs="pdf")
    head = requests.head(done["exportUrl"], timeout=10)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(full.content)
    assert head.content == b""
    part = requests.get(done["exportUrl"], headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206
    assert part.content == full.content[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(full.content)}"
    tail = requests.get(done["exportUrl"], headers={"Range": "bytes=-5"}, timeout=10)
    assert tail.content == full.content[-5:]
    bad = requests.get(done["exportUrl"], headers={"Range": f"bytes={len(full.content)}-"}, timeout=10)
    assert bad.status_code == 416


def test_export_padding_streams_exact_length() -> None:
    padding = 32 * 1024 * 1024 + 123
    with GammaEmulator(export_padding_bytes=padding, generation_seconds=0) as emulator:
        c = Client(emulator)
        generation_id = c.generate(exportAs="pdf", numCards=2)
        done = c.wait(generation_id)
        real = emulator.export_bytes(generation_id)
        with requests.get(done["exportUrl"], stream=True, timeout=30) as response:
            assert int(response.headers["Content-Length"]) == len(real) + padding
            total, head = 0, b""
            for chunk in response.iter_content(1 << 20):
                if len(head) < len(real):
                    head += chunk[: len(real) - len(head)]
                total += len(chunk)
        assert total == len(real) + padding
        assert head == real
        tail = requests.get(done["exportUrl"], headers={"Range": "bytes=-4"}, timeout=10)
        assert tail.content == b"\x00" * 4


def test_export_bytes_errors(client: Client, emu: GammaEmulator) -> None:
    with pytest.raises(KeyError):
        emu.export_bytes("nope")
    with pytest.raises(ValueError, match="exportAs"):
        emu.export_bytes(client.generate())


# --------------------------------------------------------------------------------------- faults


def test_status_fault_with_default_body_and_retry_after(client: Client, emu: GammaEmulator) -> None:
    rule = emu.add_fault(status=429, retry_after=7, path_prefix="/v1.0/themes")
    response = client.get("/v1.0/themes")
    assert response.status_code == 429
    assert response.json() == {"message": "Too many requests", "statusCode": 429}
    assert response.headers["Retry-After"] == "7"
    assert response.headers["x-request-id"]
    assert all(name in response.headers for name in RATE_HEADERS)
    assert rule.hits == 1
    assert rule.remaining == 0
    assert client.get("/v1.0/themes").status_code == 200
    assert emu.requests[0].status == 429
    assert emu.requests[0].fault is not None


@pytest.mark.parametrize(
    ("status", "message"),
    [(500, "An error occurred while generating the gamma."), (502, "Bad gateway"), (403, "Forbidden")],
)
def test_status_fault_messages(client: Client, emu: GammaEmulator, status: int, message: str) -> None:
    emu.add_fault(status=status)
    assert client.get("/v1.0/themes").json() == {"message": message, "statusCode": status}


def test_fault_matching_order_times_and_custom_body(client: Client, emu: GammaEmulator) -> None:
    emu.add_fault(status=503, method="POST", times=2, body="<html>upstream</html>")
    forever = emu.add_fault(status=500, path_prefix="/v1.0/generations/", times=None)
    assert client.get("/v1.0/themes").status_code == 200  # neither rule matches
    for _ in range(2):
        response = client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate"})
        assert response.status_code == 503
        assert response.text == "<html>upstream</html>"
    assert client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate"}).status_code == 200
    for _ in range(3):
        assert client.get("/v1.0/generations/abc").status_code == 500
    assert forever.hits == 3
    assert emu.post_count() == 3
    emu.clear_faults()
    assert client.get("/v1.0/generations/abc").status_code == 404


def test_post_fault_created_really_starts_generation(client: Client, emu: GammaEmulator) -> None:
    emu.add_fault(status=502, method="POST", path_prefix="/v1.0/generations", created=True)
    response = client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate", "numCards": 2})
    assert response.status_code == 502
    assert emu.post_count() == 1
    (state,) = emu.generations.values()
    time.sleep(0.3)
    assert emu.generations[state.generation_id].status == "completed"
    assert emu.credits == 10_000 - 4

    emu.add_fault(status=500, method="POST", path_prefix="/v1.0/generations")
    assert client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate"}).status_code == 500
    assert len(emu.generations) == 1


def test_drop_fault(client: Client, emu: GammaEmulator) -> None:
    emu.add_fault(drop=True, method="POST", created=True)
    with pytest.raises(requests.ConnectionError):
        client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate"})
    assert len(emu.generations) == 1
    assert emu.requests[-1].status is None
    assert client.get("/v1.0/themes").status_code == 200


def test_delay_fault(client: Client, emu: GammaEmulator) -> None:
    emu.add_fault(delay=0.4, path_prefix="/v1.0/themes")
    started = time.monotonic()
    assert client.get("/v1.0/themes").status_code == 200
    assert time.monotonic() - started >= 0.4
    emu.add_fault(delay=1.0)
    with pytest.raises(requests.Timeout):
        client.session.get(emu.base_url + "/v1.0/themes", timeout=0.2)


def test_export_faults(client: Client, emu: GammaEmulator) -> None:
    _, done, full = export(client, exportAs="pdf", numCards=3)
    emu.add_fault(host="export", truncate_at=100)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(done["exportUrl"], timeout=10)
    emu.add_fault(host="export", status=503, retry_after=2)
    unavailable = requests.get(done["exportUrl"], timeout=10)
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "2"
    assert unavailable.headers["Content-Type"].startswith("application/xml")
    emu.add_fault(host="export", drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(done["exportUrl"], timeout=10)
    assert requests.get(done["exportUrl"], timeout=10).content == full.content
    assert [r.status for r in emu.export_requests] == [200, 200, 503, None, 200]


def test_truncate_fault_on_api_host(client: Client, emu: GammaEmulator) -> None:
    emu.add_fault(truncate_at=5, path_prefix="/v1.0/themes")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.get("/v1.0/themes")
    emu.add_fault(truncate_at=5, method="POST", created=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.post("/v1.0/generations", {"inputText": "x", "textMode": "generate"})
    assert len(emu.generations) == 1  # created exactly once


def test_invalid_fault_rules(emu: GammaEmulator) -> None:
    with pytest.raises(ValueError, match="needs"):
        emu.add_fault()
    with pytest.raises(ValueError, match="only one"):
        emu.add_fault(status=500, drop=True)
    with pytest.raises(ValueError, match="host"):
        emu.add_fault(host="cdn", status=500)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- control API


def test_control_api(client: Client, emu: GammaEmulator) -> None:
    base = emu.base_url + "/_emulator"
    assert requests.get(base + "/health", timeout=10).json()["export_base_url"] == emu.export_base_url
    rule = requests.post(base + "/faults", json={"status": 500, "path_prefix": "/v1.0/themes"}, timeout=10)
    assert rule.status_code == 200
    assert rule.json()["status"] == 500
    assert requests.post(base + "/faults", json={"nope": 1}, timeout=10).status_code == 400
    assert client.get("/v1.0/themes").status_code == 500
    assert requests.get(base + "/faults", timeout=10).json()[0]["hits"] == 1
    generation_id = client.generate(exportAs="pdf")
    recorded = requests.get(base + "/requests", timeout=10).json()
    assert [r["path"] for r in recorded] == ["/v1.0/themes", "/v1.0/generations"]
    assert recorded[1]["json"]["exportAs"] == "pdf"
    assert recorded[1]["headers"]["x-api-key"] == KEY
    generations = requests.get(base + "/generations", timeout=10).json()
    assert generations[generation_id]["status"] == "pending"
    completed = requests.post(base + f"/generations/{generation_id}/complete", timeout=10).json()
    assert completed["status"] == "completed"
    export_url = client.get(f"/v1.0/generations/{generation_id}").json()["exportUrl"]
    requests.get(export_url, timeout=10)
    assert len(requests.get(base + "/export-requests", timeout=10).json()) == 1
    assert requests.post(base + "/fail-next", json={"message": "nope"}, timeout=10).status_code == 200
    assert client.wait(client.generate())["error"]["message"] == "nope"
    assert requests.put(base + "/credits", json={"credits": 3}, timeout=10).json() == {"credits": 3}
    assert emu.credits == 3
    assert requests.post(base + "/generations/unknown/fail", timeout=10).status_code == 404
    assert requests.post(base + "/reset", timeout=10).json() == {"ok": True}
    assert emu.requests == []
    assert emu.generations == {}
    assert emu.faults == []
    assert client.get("/v1.0/themes").status_code == 200  # control calls are not recorded
    assert len(emu.requests) == 1


def test_reset_from_python(client: Client, emu: GammaEmulator) -> None:
    client.generate()
    emu.add_fault(status=500)
    emu.reset()
    assert emu.requests == []
    assert emu.generations == {}
    assert emu.faults == []
    assert emu.post_count() == 0


# ------------------------------------------------------------------------------ lifecycle & misc


def test_lifecycle_and_connection_uri() -> None:
    emulator = GammaEmulator(api_key="sk-gamma-x")
    with pytest.raises(RuntimeError):
        _ = emulator.base_url
    emulator.start()
    try:
        assert emulator.running
        assert emulator.base_url != emulator.export_base_url
        assert json.loads(emulator.connection_uri()) == {
            "conn_type": "gamma",
            "host": emulator.base_url,
            "password": "sk-gamma-x",
        }
        with pytest.raises(RuntimeError):
            emulator.start()
    finally:
        emulator.stop()
    emulator.stop()
    assert not emulator.running
    with pytest.raises(requests.ConnectionError):
        requests.get(emulator.base_url + "/v1.0/themes", timeout=2)


def test_concurrent_clients(client: Client, emu: GammaEmulator) -> None:
    ids = [client.generate() for _ in range(20)]

    def poll(generation_id: str) -> int:
        with requests.Session() as session:
            session.headers["X-API-KEY"] = KEY
            codes = {
                session.get(f"{emu.base_url}/v1.0/generations/{generation_id}", timeout=10).status_code
                for _ in range(10)
            }
            return codes.pop() if len(codes) == 1 else 0

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(poll, ids * 5))
    assert results == [200] * 100
    assert len(emu.requests) == 20 + 1000


def test_pytest_plugin_fixtures(gamma_connection: GammaEmulator) -> None:
    assert os.environ["AIRFLOW_CONN_GAMMA_DEFAULT"] == gamma_connection.connection_uri()
    c = Client(gamma_connection)
    assert c.wait(c.generate(), timeout=3)["status"] == "completed"


def test_cli_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_gamma.testing.emulator",
            "--port",
            "0",
            "--export-port",
            "0",
            "--api-key",
            "sk-gamma-demo",
            "--generation-seconds",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["api_key"] == "sk-gamma-demo"
        response = requests.get(
            info["base_url"] + "/v1.0/themes", headers={"X-API-KEY": "sk-gamma-demo"}, timeout=10
        )
        assert response.status_code == 200
        assert info["export_base_url"].startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
