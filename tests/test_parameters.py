# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Generation parameters: the body Gamma receives, and one clear error per invalid value."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.parameters import (
    AGENT_FIELDS,
    agent_body,
    card_split_warnings,
    generation_body,
    is_unresolved,
    template_body,
)


def test_minimal_body_always_sends_text_mode():
    assert generation_body(input_text="Q3 numbers") == {"inputText": "Q3 numbers", "textMode": "generate"}


def test_full_body_uses_gammas_names_and_keeps_nested_camel_case():
    body = generation_body(
        input_text="Best hikes",
        text_mode="condense",
        format="document",
        num_cards=12,
        card_split="auto",
        theme_id="theme_1",
        additional_instructions="Catchy titles",
        export_as="pdf",
        folder_id="f1",
        text_options={"amount": "detailed", "tone": "inspiring", "audience": "hikers", "language": "en-gb"},
        image_options={"source": "aiGenerated", "model": "imagen-4-pro", "style": "photo"},
        card_options={
            "dimensions": "16x9",
            "headerFooter": {
                "topRight": {"type": "image", "source": "themeLogo", "size": "sm"},
                "bottomRight": {"type": "cardNumber"},
                "hideFromFirstCard": True,
            },
        },
        sharing_options={
            "workspaceAccess": "view",
            "externalAccess": "noAccess",
            "emailOptions": {"recipients": ["a@example.com"], "access": "comment"},
        },
    )
    assert body["numCards"] == 12
    assert body["folderId"] == "f1"
    assert body["cardOptions"]["headerFooter"]["bottomRight"] == {"type": "cardNumber"}
    assert list(body) == [
        "inputText",
        "textMode",
        "format",
        "themeId",
        "numCards",
        "cardSplit",
        "additionalInstructions",
        "folderId",
        "exportAs",
        "textOptions",
        "imageOptions",
        "cardOptions",
        "sharingOptions",
    ]


def test_extra_body_passes_new_fields_through_and_merges_deeply():
    body = generation_body(
        input_text="x",
        text_options={"amount": "brief"},
        extra_body={"title": "Weekly", "textOptions": {"newKnob": 3}},
    )
    assert body["title"] == "Weekly"
    assert body["textOptions"] == {"amount": "brief", "newKnob": 3}


def test_fast_changing_enums_pass_through_as_strings():
    body = generation_body(
        input_text="x",
        image_options={"model": "some-model-from-next-month"},
        text_options={"language": "tlh"},
    )
    assert body["imageOptions"]["model"] == "some-model-from-next-month"


def test_templated_number_renders_as_string_and_is_sent_as_int():
    assert generation_body(input_text="x", num_cards="8")["numCards"] == 8


def test_unrendered_values_are_skipped_at_parse_time():
    body = generation_body(input_text="{{ ti.xcom_pull('render') }}", num_cards="{{ params.cards }}")
    assert body["numCards"] == "{{ params.cards }}"
    assert is_unresolved("{% if x %}")
    assert not is_unresolved("plain")


def test_only_what_airflow_renders_counts_as_unrendered():
    from airflow.sdk import BaseOperator, literal

    assert is_unresolved(BaseOperator(task_id="upstream").output)
    assert is_unresolved(literal({"k": None}))
    # Before, any other object counted as "not rendered yet" and reached Gamma unchecked.
    for value in (object(), Decimal(3), b"text", {"f1"}, datetime(2026, 1, 1), Path("/tmp")):
        assert not is_unresolved(value), value


INVALID = [
    ({"input_text": ""}, "input_text", "1 to 400,000"),
    ({"input_text": "   "}, "input_text", "1 to 400,000"),
    ({"input_text": "x" * 400_001}, "input_text", "400,000"),
    ({"input_text": 42}, "input_text", "must be a string"),
    ({"input_text": None}, "input_text", "required"),
    ({"text_mode": "Generate"}, "text_mode", "did you mean 'generate'"),
    ({"text_mode": "summarize"}, "text_mode", "generate, condense, preserve"),
    ({"format": "social_post"}, "format", "presentation, document, social, webpage"),
    ({"format": "slides"}, "format", "presentation"),
    ({"num_cards": 0}, "num_cards", "1 to 75"),
    ({"num_cards": 76}, "num_cards", "60 on Pro"),
    ({"num_cards": 10.5}, "num_cards", "whole number"),
    ({"num_cards": True}, "num_cards", "whole number"),
    ({"num_cards": "ten"}, "num_cards", "whole number"),
    ({"card_split": "manual"}, "card_split", "auto, inputTextBreaks"),
    ({"export_as": "docx"}, "export_as", "pdf, pptx, png"),
    ({"export_as": ["pdf", "png"]}, "export_as", "pdf, pptx, png"),
    ({"theme_id": ""}, "theme_id", "at least 1"),
    ({"additional_instructions": "x" * 5001}, "additional_instructions", "0 to 5,000"),
    ({"folder_ids": "f1"}, "folder_ids", "list of non-empty strings"),
    ({"folder_ids": ["f1", "f2"]}, "folder_ids", "one folder only; pass folder_id="),
    ({"folder_ids": [""]}, "folder_ids", "non-empty"),
    ({"folder_ids": ["f1"], "folder_id": "f2"}, "folder_ids", "contradicts folder_id='f2'"),
    ({"folder_id": ""}, "folder_id", "at least 1"),
    ({"text_options": {"amount": "huge"}}, "text_options.amount", "brief, medium, detailed, extensive"),
    ({"text_options": {"amout": "brief"}}, "text_options", "did you mean 'amount'"),
    ({"text_options": {"tone": "x" * 501}}, "text_options.tone", "500"),
    ({"text_options": "brief"}, "text_options", "must be a dict"),
    ({"image_options": {"source": "unsplash"}}, "image_options.source", "aiGenerated"),
    ({"image_options": {"style": "x" * 5001}}, "image_options.style", "5,000"),
    ({"card_options": {"dimensions": "16:9"}}, "card_options.dimensions", "16x9"),
    (
        {"card_options": {"headerFooter": {"topLeft": {"value": "x"}}}},
        "card_options.headerFooter.topLeft.type",
        "required",
    ),
    (
        {"card_options": {"headerFooter": {"middle": {"type": "text"}}}},
        "card_options.headerFooter",
        "topLeft",
    ),
    ({"card_options": {"headerFooter": {"hideFromFirstCard": "true"}}}, "hideFromFirstCard", "true or false"),
    (
        {"sharing_options": {"externalAccess": "fullAccess"}},
        "sharing_options.externalAccess",
        "noAccess, view",
    ),
    ({"sharing_options": {"emailOptions": {"access": "view"}}}, "emailOptions.recipients", "required"),
    ({"sharing_options": {"emailOptions": {"recipients": []}}}, "emailOptions.recipients", "at least 1"),
    ({"extra_body": ["not", "a", "dict"]}, "extra_body", "dict"),
    ({"num_card": 5}, "num_card", "allowed: input_text"),
    # Values Gamma cannot take as JSON, named by their path.
    ({"text_options": {"language": None}}, "text_options.language=None", "leave the key out"),
    ({"image_options": {"model": None}}, "image_options.model=None", "sent as null"),
    ({"card_options": {"headerFooter": {"topLeft": None}}}, "card_options.headerFooter.topLeft", "null"),
    ({"input_text": None, "pages": [{"inputText": "a", "numCards": None}]}, "pages[0].numCards", "null"),
    ({"extra_body": {"x": None}}, "extra_body.x=None", "leave the key out"),
    ({"extra_body": {"x": [1, float("nan")]}}, "extra_body.x[1]=nan", "finite number"),
    ({"extra_body": {"x": {"y": float("inf")}}}, "extra_body.x.y=inf", "finite number"),
    ({"extra_body": {"when": datetime(2026, 1, 1)}}, "extra_body.when", "pass value.isoformat()"),
    ({"extra_body": {"day": date(2026, 1, 1)}}, "extra_body.day", "a date is not JSON"),
    ({"extra_body": {"ids": {"a", "b"}}}, "extra_body.ids", "pass a list"),
    ({"extra_body": {"blob": b"x"}}, "extra_body.blob", "decode it to a str"),
    ({"extra_body": {"n": Decimal("1.5")}}, "extra_body.n", "a Decimal is not JSON"),
    ({"extra_body": {"o": object()}}, "extra_body.o", "pass a string, a number"),
    ({"extra_body": {1: "x"}}, "extra_body", "keys must be strings"),
    ({"folder_ids": {"f1"}}, "folder_ids", "list of non-empty strings"),
    ({"input_text": b"Weekly numbers"}, "input_text", "must be a string"),
    ({"num_cards": Decimal(8)}, "num_cards", "whole number"),
    ({"num_cards": "²"}, "num_cards", "whole number"),
    ({"num_cards": "٣"}, "num_cards", "whole number"),
    ({"title": b"Weekly"}, "title", "must be a string"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "allowed"), INVALID, ids=[f"{i:02d}-{c[1]}" for i, c in enumerate(INVALID)]
)
def test_each_invalid_value_gets_one_clear_error_naming_field_and_allowed_values(overrides, field, allowed):
    kwargs = {"input_text": "Weekly numbers", **overrides}
    with pytest.raises(GammaParameterError) as caught:
        generation_body(**kwargs)
    assert field in str(caught.value)
    assert allowed in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_template_body():
    body = template_body(
        gamma_id="g_abc", prompt="Adapt for Acme", export_as="pdf", image_options={"style": "clean"}
    )
    assert body == {
        "gammaId": "g_abc",
        "prompt": "Adapt for Acme",
        "exportAs": "pdf",
        "imageOptions": {"style": "clean"},
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"gamma_id": ""}, "gamma_id"),
        ({"prompt": ""}, "prompt"),
        ({"image_options": {"source": "aiGenerated"}}, "image_options"),
        ({"num_cards": 3}, "num_cards"),
        ({"export_as": "gif"}, "export_as"),
    ],
)
def test_template_body_rejects_what_the_template_endpoint_does_not_take(overrides, field):
    with pytest.raises(GammaParameterError, match=field):
        template_body(**{"gamma_id": "g_abc", "prompt": "p", **overrides})


def test_the_body_is_plain_json_and_values_not_rendered_yet_wait_for_rendering():
    from airflow.sdk import BaseOperator

    upstream = BaseOperator(task_id="upstream").output
    body = generation_body(
        input_text="x",
        num_cards=" 8 ",
        text_options=MappingProxyType({"language": "{{ params.lang }}"}),
        extra_body={"newKnob": (1, 2), "nested": MappingProxyType({"k": [("a",)]}), "later": upstream},
    )
    assert body["numCards"] == 8
    assert body["textOptions"] == {"language": "{{ params.lang }}"}
    assert body["newKnob"] == [1, 2]
    assert body["nested"] == {"k": [["a"]]}
    assert body["later"] is upstream  # checked once Airflow resolved it
    json.dumps({k: v for k, v in body.items() if k != "later"}, allow_nan=False)


def test_the_agent_body_takes_no_title_and_no_null():
    assert "title" not in [keyword for keyword, _ in AGENT_FIELDS.values()]
    with pytest.raises(GammaParameterError, match="title: the Gamma 5 agent names the deck itself"):
        agent_body(prompt="Board update", title="Q3 board update")
    with pytest.raises(GammaParameterError, match=r"sharing_options.workspaceAccess=None: None would be"):
        agent_body(prompt="Board update", sharing_options={"workspaceAccess": None})
    with pytest.raises(GammaParameterError, match=r"extra_body.files\[0\]=None"):
        agent_body(prompt="Board update", extra_body={"files": [None]})
    with pytest.raises(GammaParameterError, match="num_cards"):
        agent_body(prompt="Board update", num_cards=Decimal(8))
    body = agent_body(prompt="Board update", num_cards="6", source_urls=("https://example.com/a",))
    assert body == {"prompt": "Board update", "numCards": 6, "sourceUrls": ["https://example.com/a"]}


def test_template_body_values_must_be_json_too():
    with pytest.raises(GammaParameterError, match=r"image_options.style=None"):
        template_body(gamma_id="g_abc", prompt="p", image_options={"style": None})
    with pytest.raises(GammaParameterError, match=r"extra_body.at"):
        template_body(gamma_id="g_abc", prompt="p", extra_body={"at": datetime(2026, 1, 1)})
    with pytest.raises(GammaParameterError, match="gamma_id"):
        template_body(gamma_id=b"g_abc", prompt="p")


NO_BREAK = "Q3 revenue\nQ3 costs"
BREAKS = "Q3 revenue\n---\nQ3 costs"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"inputText": NO_BREAK, "cardSplit": "inputTextBreaks", "numCards": 8}, ["input_text"]),
        ({"inputText": BREAKS, "cardSplit": "inputTextBreaks"}, []),
        ({"inputText": NO_BREAK, "cardSplit": "auto"}, []),
        ({"inputText": NO_BREAK}, []),
        ({"inputText": "{{ params.text }}", "cardSplit": "inputTextBreaks"}, []),  # judged once rendered
        (
            {"pages": [{"inputText": BREAKS}, {"inputText": NO_BREAK}], "cardSplit": "inputTextBreaks"},
            ["pages[1]"],
        ),
        (
            {"pages": [{"inputText": NO_BREAK, "cardSplit": "inputTextBreaks"}], "cardSplit": "auto"},
            ["pages[0]"],
        ),
        ({"pages": [{"inputText": NO_BREAK, "cardSplit": "auto"}], "cardSplit": "inputTextBreaks"}, []),
    ],
)
def test_input_text_breaks_without_a_break_is_warned_of(body, named):
    messages = card_split_warnings(body)
    assert [m.split(" holds no")[0].split(" but ")[1] for m in messages] == named
    for message in messages:
        assert "single card" in message
        assert "ignore num_cards" in message
        assert "card_split='auto'" in message


def test_a_one_item_folder_ids_is_sent_as_folder_id_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="Gamma plans to remove it"):
        generation_body(input_text="x", folder_ids=["f2"])
    with pytest.warns(DeprecationWarning, match="pass folder_id instead"):
        body = generation_body(input_text="x", folder_ids=["f1"])
    assert body["folderId"] == "f1"
    assert "folderIds" not in body
    with pytest.warns(DeprecationWarning, match="folder_ids is deprecated"):
        assert template_body(gamma_id="g_1", prompt="p", folder_ids=("f2",))["folderId"] == "f2"
