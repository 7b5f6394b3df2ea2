# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Multi-page files (``pages`` + ``publish`` on the classic endpoint): the body, parse-time checks, and
one run against the emulator that logs and returns Gamma's ``pageWarnings``."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import pytest

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma._compat import TaskDeferred
from airflow_provider_gamma.exceptions import GammaParameterError, GammaValidationError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
from tests import doubles

PAGES = [
    {"inputText": "# Weekly overview\nRevenue up 4%", "numCards": 3, "path": "home"},
    {"inputText": "Regions: North, South", "title": "Regions", "path": "regions", "numCards": 2},
]


def multi_page(**kwargs: Any) -> GammaGenerateOperator:
    params: dict[str, Any] = {
        "task_id": "site",
        "pages": PAGES,
        "publish": True,
        "poll_interval": 0.05,
        "first_poll_delay": 0.05,
        "deferrable": False,
    }
    return GammaGenerateOperator(**{**params, **kwargs})


def test_a_multi_page_body_sends_pages_instead_of_input_text() -> None:
    body = parameters.generation_body(pages=tuple(PAGES), publish=True, theme_id="t_1")
    assert body == {"pages": PAGES, "textMode": "generate", "themeId": "t_1", "publish": True}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_text": "One deck"}, r"pages: pass input_text for a single gamma or pages .* not both"),
        ({"pages": None}, r"input_text: it is required \(or pages"),
        ({"pages": []}, r"pages=.*list of 1 to 50 items"),
        ({"pages": [{"inputText": f"p{i}"} for i in range(51)]}, r"pages=.*list of 1 to 50 items"),
        ({"pages": [PAGES[0], {"title": "No text"}]}, r"pages\[1\]\.inputText.*is required"),
        ({"pages": [{"input_text": "x"}]}, r"pages\[0\]: unknown key 'input_text'; did you mean 'inputText'"),
        ({"pages": [{"inputText": "x", "format": "slides"}]}, r"pages\[0\]\.format='slides'.*webpage"),
        ({"pages": ["just text"]}, r"pages\[0\]='just text'.*must be a dict"),
        ({"publish": "yes"}, r"publish='yes'.*true or false"),
    ],
)
def test_bad_pages_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GammaParameterError, match=message):
        multi_page(**kwargs)


def test_templated_pages_are_checked_once_rendered() -> None:
    op = multi_page(pages="{{ ti.xcom_pull('build_pages') }}")  # unresolved: nothing to check yet
    op.pages = [{"title": "rendered without text"}]
    with pytest.raises(GammaParameterError, match=r"pages\[0\]\.inputText"):
        op.build_body()


def test_the_file_is_made_once_and_its_page_warnings_are_logged_and_returned(
    gamma_connection, capsys: pytest.CaptureFixture[str]
) -> None:
    pptx = pytest.importorskip("pptx")
    result = multi_page(export_as="pptx").execute(doubles.context())

    assert result["status"] == "completed"
    assert result["pageWarnings"] == [
        {"pageIndex": 0, "message": "path is ignored on the first page: its path is the site root."}
    ]
    assert "page 1: path is ignored on the first page" in capsys.readouterr().out
    [post] = [r for r in gamma_connection.requests if r.method == "POST"]
    assert post.json is not None
    assert "inputText" not in post.json
    assert post.json["pages"] == PAGES
    assert post.json["publish"] is True
    # the six-symbol reference (issue 23), after the first page's title
    assert re.fullmatch(r"Weekly overview \[[0-9a-z]{6}\]", post.json["title"])
    deck = pptx.Presentation(io.BytesIO(gamma_connection.export_bytes(result["generationId"])))
    assert len(deck.slides) == 5  # each page's own numCards


def test_page_warnings_survive_the_deferral(gamma_connection) -> None:
    ti = doubles.TaskInstance()
    op = multi_page(deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        op.execute(doubles.context(ti))
    assert caught.value.kwargs is not None

    async def first_event() -> Any:
        async for event in caught.value.trigger.run():
            return event.payload

    result = op.execute_complete(doubles.context(ti), asyncio.run(first_event()), **caught.value.kwargs)
    assert result["status"] == "completed"
    assert result["pageWarnings"][0]["pageIndex"] == 0


def test_gamma_refuses_a_page_without_text_with_its_own_message(gamma_connection) -> None:
    body = {"textMode": "generate", "pages": [{"inputText": "ok"}, {"title": "empty"}]}
    with pytest.raises(GammaValidationError, match=r"pages\.1\.inputText should not be empty"):
        GammaHook().submit_generation(body)
    assert gamma_connection.post_count() == 1


@pytest.mark.parametrize(
    ("warnings", "lines"),
    [
        ([{"pageIndex": 2, "message": "too long"}], ["page 3: too long"]),
        ([{"path": "regions", "warning": "renamed"}], ["page regions: renamed"]),
        (["plain text"], ["plain text"]),
        ("one string", ["one string"]),
        ([{"code": 7}], ["a page: {'code': 7}"]),
        (None, []),
    ],
)
def test_page_warnings_are_read_whatever_their_shape(warnings: Any, lines: list[str]) -> None:
    assert protocol.page_warnings({"generationId": "g", "pageWarnings": warnings}) == lines
