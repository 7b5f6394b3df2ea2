# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The never-pay-twice rules of :mod:`airflow_provider_gamma.reconcile`, driven without any I/O:
each row is (record, clock, last lookup's outcome) and the decision it must lead to. The rule ids
(S1-S5, R1-R5) are those written at the top of the module."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest

from airflow_provider_gamma.reconcile import (
    MAX_LOOKUP_GAP,
    MAX_RESUBMITS,
    MIN_LOOKUP_GAP,
    Decision,
    DeckSeen,
    Found,
    GiveUp,
    LookupFailed,
    LookUpNow,
    NoDeck,
    Outcome,
    Reattach,
    SendAgain,
    Submission,
    Submit,
    WaitUntil,
    decide,
    find_deck,
    search_failed,
    searched,
    start,
    with_reference,
)
from tests import doubles

SENT = 1_800_000_000.0  # when the uncertain POST went out
WINDOW = 600.0
CLOSES = SENT + WINDOW
MARKER = "gx0123456789"
DECK: Any = {"id": "g_deck", "title": f"Weekly figures [{MARKER}]", "url": "https://gamma.app/docs/g_deck"}

THIS = Submission(fingerprint="fp", max_tries=2)
UNCERTAIN = Submission(fingerprint="fp", max_tries=2, sent_at=SENT, marker=MARKER)


def gives_up(saying: str) -> GiveUp:
    """An expected :class:`GiveUp` whose evidence must contain ``saying``."""
    return GiveUp(saying)


def assert_decision(decision: Decision, expected: Decision) -> None:
    if isinstance(expected, GiveUp):
        assert isinstance(decision, GiveUp), decision
        assert expected.evidence in decision.evidence
    else:
        assert decision == expected


# --- when a try starts -------------------------------------------------------------------------------

START_TABLE: list[tuple[str, Submission | None, Decision]] = [
    ("S1 no record", None, Submit(THIS)),
    (
        "S1 another input",
        replace(UNCERTAIN, fingerprint="other", generation_id="g1"),
        Submit(THIS, "The task state store holds the deck of another input"),
    ),
    (
        "S1 a clear: Airflow set max_tries anew",
        replace(UNCERTAIN, max_tries=5, generation_id="g1"),
        Submit(THIS, "The task state store holds the deck of an earlier run or clear"),
    ),
    ("S2 a retry of a try that got the id", replace(UNCERTAIN, generation_id="g1"), Reattach("g1")),
    ("S3 a retry of a refused POST", UNCERTAIN.refused(), Submit(THIS)),
    ("S4 a retry of a try that died mid-POST", UNCERTAIN, LookUpNow()),
    (
        "S5 ... with reconcile=False",
        replace(UNCERTAIN, marker=None),
        gives_up("with reconcile=False it cannot be looked for"),
    ),
]


@pytest.mark.parametrize(
    ("earlier", "expected"), [row[1:] for row in START_TABLE], ids=[row[0] for row in START_TABLE]
)
def test_start(earlier: Submission | None, expected: Decision) -> None:
    assert_decision(start(earlier, THIS), expected)


# --- after an uncertain POST ---------------------------------------------------------------------------

GONE = LookupFailed(SENT + 30, "403 Forbidden", transient=False)
FLAKY = LookupFailed(SENT + 30, "503 Service Unavailable", transient=True)

DECIDE_TABLE: list[tuple[str, Submission, float, Outcome | None, Decision]] = [
    ("R1 the deck was seen", UNCERTAIN, SENT + 3, DeckSeen(DECK, SENT + 3), Found(DECK)),
    ("R1 ... even after the window", UNCERTAIN, CLOSES + 9, DeckSeen(DECK, CLOSES + 1), Found(DECK)),
    ("R2 right after the POST", UNCERTAIN, SENT + 1, None, LookUpNow()),
    ("R2 after a resume, past the window", UNCERTAIN, CLOSES + 9, None, LookUpNow()),
    ("R3 search refused for good", UNCERTAIN, SENT + 30, GONE, gives_up("Cannot look for the deck")),
    ("R4 the gap is at least the minimum", UNCERTAIN, SENT + 1, NoDeck(SENT + 1), WaitUntil(SENT + 6)),
    ("R4 ... and then it is time", UNCERTAIN, SENT + 6, NoDeck(SENT + 1), LookUpNow()),
    ("R4 the gap grows with the wait", UNCERTAIN, SENT + 20, NoDeck(SENT + 20), WaitUntil(SENT + 40)),
    (
        "R4 ... up to the maximum",
        UNCERTAIN,
        SENT + 300,
        NoDeck(SENT + 300),
        WaitUntil(SENT + 300 + MAX_LOOKUP_GAP),
    ),
    ("R4 the last lookup falls at the close", UNCERTAIN, SENT + 590, NoDeck(SENT + 590), WaitUntil(CLOSES)),
    ("R4 a transient failure waits too", UNCERTAIN, SENT + 30, FLAKY, WaitUntil(SENT + 60)),
    (
        "R5 nothing after the window: send again",
        UNCERTAIN,
        CLOSES,
        NoDeck(CLOSES),
        SendAgain(replace(UNCERTAIN, resubmits=1)),
    ),
    (
        "R5 ... but not forever",
        replace(UNCERTAIN, resubmits=MAX_RESUBMITS),
        CLOSES,
        NoDeck(CLOSES),
        gives_up(f"Gave up after {MAX_RESUBMITS + 1} uncertain submissions"),
    ),
    (
        "R5 the last search failed: never send again",
        UNCERTAIN,
        CLOSES + 1,
        replace(FLAKY, at=CLOSES + 1),
        gives_up("the last search failed"),
    ),
    (
        "no reference, nothing to look for",
        replace(UNCERTAIN, marker=None),
        SENT + 1,
        None,
        gives_up("it cannot be looked for"),
    ),
]


@pytest.mark.parametrize(
    ("record", "now", "last", "expected"),
    [row[1:] for row in DECIDE_TABLE],
    ids=[row[0] for row in DECIDE_TABLE],
)
def test_decide(record: Submission, now: float, last: Outcome | None, expected: Decision) -> None:
    assert_decision(decide(record, now, last, window=WINDOW), expected)


def test_a_lookup_loop_looks_until_the_window_closes_then_sends_again_once() -> None:
    """The rules run end to end on a clock that jumps to each wake-up: the gaps, and the end."""
    record, now, last = UNCERTAIN, SENT + 2, None
    lookups: list[float] = []
    decision = decide(record, now, last, window=WINDOW)
    while not isinstance(decision, SendAgain | GiveUp | Found):
        if isinstance(decision, LookUpNow):
            lookups.append(now)
            record, last = searched(record, [{"id": "other", "title": "Another deck"}], now)
        else:
            assert isinstance(decision, WaitUntil)
            assert decision.when > now
            now = decision.when
        decision = decide(record, now, last, window=WINDOW)

    assert isinstance(decision, SendAgain)
    assert decision.record.resubmits == 1
    gaps = [b - a for a, b in pairwise(lookups)]
    assert all(MIN_LOOKUP_GAP <= gap <= MAX_LOOKUP_GAP for gap in gaps[:-1])
    assert lookups[-1] == CLOSES
    assert len(lookups) == len(record.lookups) < 20
    assert "search: 1 hits, none with it" in decision.record.evidence()


# --- what a lookup saw ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "found"),
    [
        (f"Weekly figures [{MARKER}]", True),
        (f"{MARKER} at the start", True),
        (f"Weekly figures [{MARKER}0]", False),  # a longer marker is another deck's
        ("Weekly figures [gx9999999999]", False),
        ("Weekly figures", False),
    ],
)
def test_a_hit_is_the_deck_only_if_its_title_carries_the_whole_marker(title: str, found: bool) -> None:
    hit: Any = {"id": "g1", "title": title}
    record, outcome = searched(UNCERTAIN, [hit], SENT + 5)

    assert isinstance(outcome, DeckSeen) is found
    assert (find_deck([hit], MARKER) is not None) is found
    assert record.lookups[0].endswith(f"search: 1 hits, {'deck g1' if found else 'none with it'}")


def test_a_failed_search_is_evidence() -> None:
    record, outcome = search_failed(UNCERTAIN, "503 Service Unavailable", transient=True, now=SENT + 5)

    assert outcome == LookupFailed(SENT + 5, "503 Service Unavailable", transient=True)
    assert "search failed: 503 Service Unavailable" in record.evidence()
    assert f"reference {MARKER} in the deck title" in record.evidence()


def test_the_reference_rides_in_the_title_within_gammas_limit() -> None:
    assert with_reference({"inputText": "# Weekly figures\nmore"}, MARKER)["title"] == (
        f"Weekly figures [{MARKER}]"
    )
    assert len(with_reference({"title": "Q" * 500}, MARKER)["title"]) == 500


# --- the record --------------------------------------------------------------------------------------


def test_the_record_survives_json() -> None:
    record = replace(UNCERTAIN, generation_id="g1", resubmits=1).noted("search: 0 hits", SENT + 5)

    assert Submission.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "data",
    [
        None,
        "gamma",
        {"fingerprint": "fp", "sent_at": SENT},
        # An older provider's record: the first try of the clear, derived from the DAG's retries.
        {"fingerprint": "fp", "clear_epoch": 1, "sent_at": SENT, "marker": MARKER},
        {"fingerprint": "fp", "max_tries": "two", "sent_at": SENT},
    ],
)
def test_anything_else_is_no_record(data: Any) -> None:
    assert Submission.from_json(data) is None


# --- retry or clear, in the operator -------------------------------------------------------------------


class _Hook:
    """The two calls a retry may make, counted: no network."""

    def __init__(self) -> None:
        self.posts = 0

    def submit_generation(self, body: Any, *, timeout: float | None = None) -> dict[str, Any]:
        self.posts += 1
        return {"generationId": f"g{self.posts}"}

    def get_generation(self, generation_id: str) -> dict[str, Any]:
        return {"generationId": generation_id, "status": "completed", "gammaUrl": "https://gamma.app/x"}


def _try(hook: _Hook, store: doubles.StateStore, *, retries: int, try_number: int, max_tries: int) -> Any:
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

    op = GammaGenerateOperator(
        task_id="generate", input_text="Weekly figures", retries=retries, wait_for_completion=False
    )
    op.__dict__["hook"] = hook
    ti = doubles.TaskInstance(try_number, max_tries=max_tries)
    return op.execute(doubles.context(ti, store))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "then", "posts"),
    [
        # (retries, try number, max_tries as Airflow stored it) of two tries of one task instance
        pytest.param((3, 1, 3), (1, 2, 3), 1, id="retries lowered between tries: a retry"),
        pytest.param((2, 2, 3), (3, 3, 3), 1, id="retries raised after a clear: a retry"),
        pytest.param((2, 1, 2), (2, 3, 4), 2, id="a clear after try 2: a new deck"),
        pytest.param((2, 2, 3), (0, 3, 3), 1, id="retries removed after a clear: a retry"),
    ],
)
def test_a_retry_is_told_from_a_clear_by_what_airflow_stored(
    first: tuple[int, int, int], then: tuple[int, int, int], posts: int
) -> None:
    """Before: the clear's first try came from the DAG's *current* ``retries``, so a DAG edited
    between two tries made a retry look like a clear, and the retry paid for a second deck."""
    hook, store = _Hook(), doubles.StateStore()
    retries, try_number, max_tries = first
    one = _try(hook, store, retries=retries, try_number=try_number, max_tries=max_tries)
    retries, try_number, max_tries = then
    two = _try(hook, store, retries=retries, try_number=try_number, max_tries=max_tries)

    assert hook.posts == posts
    assert (one["generationId"] == two["generationId"]) is (posts == 1)
