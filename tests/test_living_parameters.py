# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Parse-time values of living decks: an operator's ``files=``, the agent's ``files`` (upload ids) and
the body of an agent edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.parameters import agent_body, check_files, edit_body


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        ["s3://reports/weekly/figures.csv", "file:///data/q3.pdf", "/data/q3.pdf"],
        [Path("/data/q3.pdf"), ObjectStoragePath("s3://reports/figures.csv")],
        ["{{ ti.xcom_pull('export') }}", "s3://reports/{{ ds }}/figures.csv"],
        "{{ ti.xcom_pull('paths') }}",
    ],
)
def test_files_accepts_paths_uris_and_values_rendered_later(value: object) -> None:
    check_files(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("s3://reports/figures.csv", r"files='s3://reports/figures.csv': must be a list.*wrap one file"),
        (Path("/data/q3.pdf"), r"files=PosixPath\('/data/q3.pdf'\): must be a list"),
        ({"a": 1}, r"files=\{'a': 1\}: must be a list"),
        (["data/q3.pdf"], r"files\[0\]='data/q3.pdf': a local path must be absolute"),
        (["/ok.csv", Path("rel.csv")], r"files\[1\]='rel.csv': a local path must be absolute"),
        (["/ok.csv", 42], r"files\[1\]=42: must be a file to upload: an ObjectStoragePath, a URI"),
        ([b"/data/q3.pdf"], r"files\[0\]=b'/data/q3.pdf': must be a file to upload"),
        ([""], r"files\[0\]='': must be a file to upload"),
        (["nosuch://bucket/x.csv"], r"files\[0\]=.*no Airflow filesystem handles nosuch://; available: "),
        (
            ["https://example.com/deck.pdf"],
            r"no Airflow filesystem handles https:// \(a web page goes in source_urls\)",
        ),
        (["/x.csv"] * 51, r"files=.*at most 50 files"),
    ],
)
def test_files_refuses_anything_else_naming_the_field(value: object, message: str) -> None:
    with pytest.raises(GammaParameterError, match=message):
        check_files(value)


def test_files_names_the_operator_argument_it_was_given_as() -> None:
    with pytest.raises(GammaParameterError, match=r"sources\[0\]=7"):
        check_files([7], "sources")


def test_the_agent_takes_upload_ids_or_gammas_upload_objects() -> None:
    files = ["upl_1", {"uploadId": "upl_2", "filename": "q3.pdf"}]
    assert agent_body(prompt="Board update", files=files) == {"prompt": "Board update", "files": files}
    with pytest.raises(GammaParameterError, match=r"files\[0\]=3: must be an upload id"):
        agent_body(prompt="x", files=[3])
    with pytest.raises(GammaParameterError, match=r"files\[0\].uploadId=None: is required"):
        agent_body(prompt="x", files=[{"filename": "q3.pdf"}])
    with pytest.raises(GammaParameterError, match=r"files=.*\[\].*: must be a list of 1 to 50 items"):
        agent_body(prompt="x", files=[])


def test_edit_body_sends_only_what_was_given_in_gammas_names() -> None:
    assert edit_body(prompt="This week's revenue is $4.2M") == {"prompt": "This week's revenue is $4.2M"}
    assert edit_body(
        prompt="Update the figures",
        additional_instructions="Keep the layout",
        files=["upl_1"],
        quality="standard",
        disable_connectors=True,
        export_as="pdf",
        extra_body={"newField": 1},
    ) == {
        "prompt": "Update the figures",
        "additionalInstructions": "Keep the layout",
        "files": ["upl_1"],
        "quality": "standard",
        "disableConnectors": True,
        "exportAs": "pdf",
        "newField": 1,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt": None}, r"prompt: it is required"),
        ({"prompt": " "}, r"prompt=' ': must be 1 to"),
        ({"prompt": "x", "title": "Board"}, r"Unknown Gamma parameter 'title'; allowed: prompt, "),
        ({"prompt": "x", "quality": "best"}, r"quality='best': must be one of lite, standard, max"),
        ({"prompt": "x", "files": "upl_1"}, r"files=.*upl_1.*: must be a list of 1 to 50 items"),
    ],
)
def test_edit_body_refuses_bad_values_before_anything_is_sent(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(GammaParameterError, match=message):
        edit_body(**options)  # type: ignore[arg-type]


def test_edit_body_lets_templates_through_until_rendered() -> None:
    assert edit_body(prompt="{{ params.figures }}", files="{{ ti.xcom_pull('up') }}") == {
        "prompt": "{{ params.figures }}",
        "files": "{{ ti.xcom_pull('up') }}",
    }
