# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Generation parameters: the body Gamma receives, and one clear error per invalid value."""

from __future__ import annotations

import pytest

from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.parameters import generation_body, is_unresolved, template_body


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
    assert is_unresolved(object())
    assert not is_unresolved("plain")


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


def test_a_one_item_folder_ids_is_sent_as_folder_id_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="pass folder_id instead"):
        body = generation_body(input_text="x", folder_ids=["f1"])
    assert body["folderId"] == "f1"
    assert "folderIds" not in body
    with pytest.warns(DeprecationWarning, match="folder_ids is deprecated"):
        assert template_body(gamma_id="g_1", prompt="p", folder_ids=("f2",))["folderId"] == "f2"
