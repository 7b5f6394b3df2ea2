# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The comparison every contract check goes through: an answer's shape, the differences between two
shapes, and what is left out where no source settles a value."""

from __future__ import annotations

import pytest

from airflow_provider_gamma.testing.shape import ANY, differences, is_shape, relaxed, shape

ANSWER = {
    "hits": [
        {"id": "g_1", "title": "A", "createdBy": {"id": "u_1"}, "archived": False},
        {"id": "g_2", "title": "B", "createdBy": "u_2", "highlight": "<em>B</em>"},
    ],
    "credits": {"deducted": 15, "remaining": 485.5},
    "nextCursor": None,
}


def test_a_shape_keeps_keys_and_types_and_leaves_values_out() -> None:
    assert shape(ANSWER) == {
        "credits": {"deducted": "number", "remaining": "number"},
        "hits": [
            {
                "archived": "boolean",
                "createdBy": {"id": "string"},  # an object and a string: the object's shape is kept
                "highlight": "string",
                "id": "string",
                "title": "string",
            }
        ],
        "nextCursor": "null",
    }
    assert "g_1" not in str(shape(ANSWER))


def test_differences_name_each_missing_unexpected_and_retyped_key() -> None:
    gamma = shape({"gamma": {"gammaId": "g", "gammaUrl": "u"}, "credits": {"deducted": 1}})
    emulator = shape({"gamma": {"id": "g", "gammaUrl": "u"}, "credits": {"deducted": "1"}})
    assert differences(gamma, emulator) == [
        "$.credits.deducted: expected number, got string",
        "$.gamma.gammaId: missing (expected string)",
        "$.gamma.id: unexpected (string)",
    ]
    assert differences(gamma, gamma) == []


def test_a_transcripts_shape_is_told_from_a_sample() -> None:
    assert is_shape(shape(ANSWER))
    assert is_shape({"id": "string", "progress": {}, "tags": []})
    assert not is_shape(ANSWER)
    assert not is_shape({"status": "completed"})
    assert not is_shape({})


def test_loose_paths_compare_presence_only_and_optional_paths_nothing() -> None:
    gamma = shape({"hits": [{"id": "g", "createdBy": {"id": "u"}}], "progress": {"cards": 1}})
    emulator = shape({"hits": [{"id": "g", "createdBy": "u@example.com"}]})
    settle = {"loose": ["$.hits[].createdBy"], "optional": ["$.progress"]}
    assert differences(relaxed(gamma, **settle), relaxed(emulator, **settle)) == []
    assert relaxed(gamma, **settle)["hits"][0]["createdBy"] == ANY
    without_creator = shape({"hits": [{"id": "g"}]})
    assert differences(relaxed(gamma, **settle), relaxed(without_creator, **settle)) == [
        "$.hits[].createdBy: missing (expected any)"
    ]
    assert "progress" in gamma  # relaxed works on a copy
    with pytest.raises(ValueError, match="starts with"):
        relaxed(gamma, loose=["hits"])
