# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The never-pay-twice rules of :mod:`airflow_provider_gamma.reconcile`, driven without any I/O:
each row is (record, clock, last lookup's outcome) and the decision it must lead to. The rule ids
(S1-S5, R1-R6, W1-W3) are those written at the top of the package."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest

from airflow_provider_gamma import reconcile
from airflow_provider_gamma.reconcile import (
    MAX_LOOKUP_GAP,
    MAX_RESUBMITS,
    MIN_LOOKUP_GAP,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    SEARCH_LIMIT,
    Ambiguous,
    CheckDeck,
    Decision,
    DeckRead,
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
    deck_read,
    deck_reference,
    find_deck,
    needs_query,
    new_marker,
    read_failed,
    referenced_gamma,
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
    (
        "S4 ... without a reference: look among the candidates",
        replace(UNCERTAIN, marker=None, by_candidates=True),
        LookUpNow(),
    ),
    ("S4 ... that had found its deck: watch it", replace(UNCERTAIN, deck=DECK), CheckDeck("g_deck")),
    (
        "S4 ... that had seen it finished: it is the result",
        replace(UNCERTAIN, deck=DECK, finished=True),
        Found(DECK),
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


# --- issue 23: the real service --------------------------------------------------------------------

QUIET = 60.0
FINISH_BY = 1800.0
T1, T2 = "2027-01-15T08:00:10.000Z", "2027-01-15T08:01:10.000Z"
OTHER: Any = {"id": "g_other", "title": "Board update", "url": "https://gamma.app/docs/g_other"}
DECK2: Any = {**DECK, "id": "g_copy", "title": f"Copy of Weekly figures [{MARKER}]"}
#: A record right after a search found the deck, its hit saying it was updated at T1.
SEEN = replace(UNCERTAIN, deck=DECK, updated=T1, quiet_since=SENT + 10, checked_at=SENT + 10)
#: A POST that carried no reference (the agent, or title_reference off), with one candidate listed.
NO_REFERENCE = replace(UNCERTAIN, marker=None, by_candidates=True)


def read(record: Submission, at: float, updated: str | None, previous: float) -> DeckRead:
    return DeckRead(at, updated, changed=updated != record.updated, previous=previous)


WATCH_TABLE: list[tuple[str, Submission, float, Outcome | None, Decision]] = [
    (
        "R1 a deck seen is watched, not taken as finished",
        SEEN,
        SENT + 11,
        DeckSeen(DECK, SENT + 10),
        WaitUntil(SENT + 10 + QUIET),
    ),
    (
        "W2 ... and read once a quiet period passed",
        SEEN,
        SENT + 70,
        DeckSeen(DECK, SENT + 10),
        CheckDeck("g_deck"),
    ),
    (
        "R1 a deck seen without a record of it is read at once",
        UNCERTAIN,
        SENT + 10,
        DeckSeen(DECK, SENT + 10),
        CheckDeck("g_deck"),
    ),
    (
        "W1 unchanged a quiet period later: finished",
        replace(SEEN, checked_at=SENT + 70),
        SENT + 70,
        DeckRead(SENT + 70, T1, changed=False, previous=SENT + 10),
        Found(DECK),
    ),
    (
        "W2 changed: another quiet period from the change",
        replace(SEEN, updated=T2, quiet_since=SENT + 70, checked_at=SENT + 70),
        SENT + 70,
        DeckRead(SENT + 70, T2, changed=True, previous=SENT + 10),
        WaitUntil(SENT + 130),
    ),
    (
        "W3 still changing past finish_by: never returned half-written",
        replace(SEEN, updated=T2, quiet_since=SENT + 1900, checked_at=SENT + 1900),
        SENT + 1900,
        DeckRead(SENT + 1900, T2, changed=True, previous=SENT + 1840),
        gives_up("was still changing 30 min after the POST"),
    ),
    (
        "W3 ... but a try resuming late gets one quiet period to see it settled",
        replace(SEEN, updated=T2, quiet_since=SENT + 9000, checked_at=SENT + 9000),
        SENT + 9000,
        DeckRead(SENT + 9000, T2, changed=True, previous=SENT + 100),
        WaitUntil(SENT + 9000 + QUIET),
    ),
    (
        "W3 no updatedTime: cannot tell, so not returned",
        replace(SEEN, updated=None, checked_at=SENT + 70),
        SENT + 70,
        DeckRead(SENT + 70, None),
        gives_up("Gamma reports no updatedTime for gamma g_deck"),
    ),
    (
        "W3 deleted since it was seen (404)",
        SEEN,
        SENT + 70,
        LookupFailed(SENT + 70, "HTTP 404", transient=False),
        gives_up("then could not be read (HTTP 404)"),
    ),
    (
        "W2 a transient read failure reads again soon",
        SEEN,
        SENT + 70,
        LookupFailed(SENT + 70, "HTTP 503", transient=True),
        WaitUntil(SENT + 70 + MIN_LOOKUP_GAP),
    ),
    (
        "W3 ... but not past finish_by",
        SEEN,
        SENT + 1900,
        LookupFailed(SENT + 1900, "HTTP 503", transient=True),
        gives_up("then could not be read (HTTP 503)"),
    ),
    ("W1 an earlier try saw it finished", replace(SEEN, finished=True), SENT + 11, None, Found(DECK)),
    (
        "R3 search not enabled for the workspace: at once, saying so",
        UNCERTAIN,
        SENT + 1,
        LookupFailed(SENT + 1, "HTTP 403", transient=False, not_enabled=True),
        gives_up("search is not enabled for this workspace yet"),
    ),
    (
        "R6 two gammas carry the reference: pick neither",
        replace(UNCERTAIN, candidates=(DECK, DECK2)),
        SENT + 30,
        Ambiguous((DECK, DECK2), SENT + 30),
        gives_up("2 gammas carry this task's reference; not picking one"),
    ),
    (
        "R5 the listing was full: cannot rule a deck out",
        UNCERTAIN,
        CLOSES,
        NoDeck(CLOSES, complete=False),
        gives_up(f"More than {SEARCH_LIMIT} gammas"),
    ),
    (
        "R4 no reference: look until the window closes",
        NO_REFERENCE,
        SENT + 20,
        NoDeck(SENT + 20),
        WaitUntil(SENT + 40),
    ),
    (
        "R5 no reference, candidates at the close: list them, pick none",
        replace(NO_REFERENCE, candidates=(OTHER,)),
        CLOSES,
        NoDeck(CLOSES),
        gives_up("the task cannot tell which"),
    ),
    (
        "R5 no reference, no gamma changed: Gamma made nothing, send again",
        NO_REFERENCE,
        CLOSES,
        NoDeck(CLOSES),
        SendAgain(replace(NO_REFERENCE, resubmits=1)),
    ),
]


@pytest.mark.parametrize(
    ("record", "now", "last", "expected"),
    [row[1:] for row in WATCH_TABLE],
    ids=[row[0] for row in WATCH_TABLE],
)
def test_decide_on_the_real_service(
    record: Submission, now: float, last: Outcome | None, expected: Decision
) -> None:
    assert_decision(decide(record, now, last, window=WINDOW, quiet=QUIET, finish_by=FINISH_BY), expected)


def test_a_deck_being_written_is_returned_only_a_quiet_period_after_its_last_change() -> None:
    """End to end on a clock that jumps to each wake-up: search finds the deck half-written, its
    updatedTime moves at each of the next reads, then stops; Found comes a quiet period after."""
    last_change = SENT + 200
    writes = [SENT + 40, SENT + 90, SENT + 150, last_change]

    def updated_at(now: float) -> str:
        return f"t{sum(1 for write in writes if write <= now)}"

    record, now = UNCERTAIN, SENT + 30
    record, last = searched(record, [{**DECK, "updatedTime": updated_at(now)}], now)
    decision = decide(record, now, last, window=WINDOW, quiet=QUIET, finish_by=FINISH_BY)
    reads = 0
    while not isinstance(decision, Found | GiveUp):
        if isinstance(decision, WaitUntil):
            now = decision.when
        else:
            assert decision == CheckDeck("g_deck")
            reads += 1
            record, last = deck_read(record, {"id": "g_deck", "updatedTime": updated_at(now)}, now)
        decision = decide(record, now, last, window=WINDOW, quiet=QUIET, finish_by=FINISH_BY)

    assert isinstance(decision, Found)
    assert decision.deck["id"] == "g_deck"
    assert decision.deck["updatedTime"] == f"t{len(writes)}"
    assert now >= last_change + QUIET
    assert reads <= len(writes) + 1
    assert record.checked_at == now


def test_without_a_reference_the_candidates_are_listed_for_a_person() -> None:
    record, outcome = searched(NO_REFERENCE, [{**OTHER, "updatedTime": T2}, DECK], SENT + 5)

    assert outcome == NoDeck(SENT + 5)
    assert record.lookups[-1].endswith("search: 2 hits")
    decision = decide(record, CLOSES, replace(outcome, at=CLOSES), window=WINDOW)
    assert isinstance(decision, GiveUp)
    assert "no reference in the title" in decision.evidence
    assert f"'Board update' https://gamma.app/docs/g_other (gamma g_other, updated {T2})" in decision.evidence
    assert "(2, newest first)" in decision.evidence
    assert "GammaExportToObjectStorageOperator(gamma_id=...)" in decision.evidence


def test_two_hits_carrying_the_reference_are_ambiguous() -> None:
    record, outcome = searched(UNCERTAIN, [DECK, DECK2, OTHER], SENT + 5)

    assert outcome == Ambiguous((DECK, DECK2), SENT + 5)
    assert record.deck is None
    assert record.lookups[-1].endswith("search: 3 hits, 2 with it")


@pytest.mark.parametrize(
    ("record", "listed", "query"),
    [
        (UNCERTAIN, SEARCH_LIMIT, True),  # full, the deck not among them: ask for the reference
        (UNCERTAIN, SEARCH_LIMIT - 1, False),  # not full: the deck would be there
        (NO_REFERENCE, SEARCH_LIMIT, False),  # nothing to ask for
    ],
)
def test_the_reference_is_searched_for_only_when_the_listing_is_full(
    record: Submission, listed: int, query: bool
) -> None:
    listing: Any = [{"id": f"g{i}", "title": f"Deck {i}"} for i in range(listed)]
    assert needs_query(record, listing) is query
    assert not needs_query(record, [*listing[:-1], DECK])


def test_two_spellings_of_one_moment_are_no_change() -> None:
    record = replace(SEEN, updated="2027-01-15T08:00:10Z")
    record, outcome = deck_read(
        record, {"id": "g_deck", "updatedTime": "2027-01-15T08:00:10.000+00:00"}, SENT + 70
    )

    assert outcome == DeckRead(SENT + 70, "2027-01-15T08:00:10.000+00:00", changed=False, previous=SENT + 10)
    assert record.quiet_since == SENT + 10


def test_a_failed_read_is_evidence() -> None:
    record, outcome = read_failed(SEEN, "HTTP 503", transient=True, now=SENT + 70)

    assert outcome == LookupFailed(SENT + 70, "HTTP 503", transient=True)
    assert "reading deck g_deck failed: HTTP 503" in record.evidence()


def test_the_reference_is_short_plain_and_as_rare_as_the_arithmetic_says() -> None:
    markers = {new_marker() for _ in range(2000)}

    assert len(markers) == 2000
    assert all(len(m) == REFERENCE_LENGTH and set(m) <= set(REFERENCE_ALPHABET) for m in markers)
    assert not set("aeiouyl") & set(REFERENCE_ALPHABET)  # no words, no l/1
    assert len(REFERENCE_ALPHABET) == len(set(REFERENCE_ALPHABET)) == 29
    # The docstring's figures: a thousand decks in a window, one in 600,000 per uncertain POST.
    assert 1000 / 29**REFERENCE_LENGTH < 2e-6 < 1000 / 29 ** (REFERENCE_LENGTH - 1)
    assert with_reference({"title": "Weekly figures"}, "k7q3m9")["title"] == "Weekly figures [k7q3m9]"


def test_a_reconciled_deck_stands_in_for_its_generation_id() -> None:
    assert deck_reference("g_deck") == "gamma:g_deck"
    assert referenced_gamma(" gamma:g_deck ") == "g_deck"
    assert referenced_gamma("gen_0123456789abcdef") is None
    assert referenced_gamma("gamma:") is None
    assert referenced_gamma(None) is None


def test_the_new_record_survives_json_and_an_older_one_still_loads() -> None:
    record = replace(SEEN, by_candidates=True, candidates=(OTHER,), finished=True).noted(
        "deck read", SENT + 70
    )

    assert Submission.from_json(record.to_json()) == record
    older = {"fingerprint": "fp", "max_tries": 2, "sent_at": SENT, "marker": MARKER, "lookups": []}
    assert Submission.from_json(older) == UNCERTAIN


def test_the_title_reference_switch_is_checked_when_the_dag_is_parsed() -> None:
    from airflow_provider_gamma.exceptions import GammaParameterError
    from airflow_provider_gamma.operators.gamma import GammaGenerateOperator

    with pytest.raises(GammaParameterError, match="title_reference='no'"):
        GammaGenerateOperator(task_id="t", input_text="x", title_reference="no")  # type: ignore[arg-type]
    assert GammaGenerateOperator(task_id="t", input_text="x").reconcile_window == 600


# --- agent edits (E1-E3): the lookup is a read of the edited gamma ----------------------------------

BEFORE = "2026-12-07T09:00:00.000Z"
EDITING = Submission(fingerprint="fp", max_tries=2).editing("g_board", BEFORE)
EDIT_SENT = replace(EDITING.sending(None, SENT), lookups=())


def _gamma(updated: str | None) -> dict[str, Any]:
    gamma: dict[str, Any] = {"id": "g_board", "title": "Board deck", "url": "https://gamma.app/docs/g_board"}
    if updated is not None:
        gamma["updatedTime"] = updated
    return gamma


def test_an_edit_record_keeps_its_gamma_and_the_time_before_the_first_post_across_sends() -> None:
    assert EDIT_SENT.edit_of == "g_board"
    assert EDIT_SENT.before == BEFORE
    # A resend notes nothing new about "before": the first POST may have changed the gamma since.
    resent = EDIT_SENT.editing("g_board", "2026-12-07T09:05:00.000Z").sending(None, SENT + 700)
    assert resent.before == BEFORE
    assert resent.edit_of == "g_board"
    assert resent.sent_at == SENT + 700
    assert Submission.from_json(resent.to_json()) == resent
    assert "an edit of gamma g_board" in resent.evidence()


def test_an_uncertain_edit_is_looked_for_by_reading_its_gamma_not_by_search() -> None:
    # S4 and R2: with neither a reference nor candidates, an edit record is still looked for.
    assert start(EDIT_SENT, replace(EDIT_SENT, sent_at=0.0)) == LookUpNow()
    assert decide(EDIT_SENT, SENT + 1, None, window=WINDOW) == LookUpNow()


def test_e2_an_unchanged_gamma_is_read_again_until_the_window_closes_then_the_edit_is_sent_again() -> None:
    record, outcome = reconcile.edit_looked_up(EDIT_SENT, _gamma("2026-12-07T09:00:00Z"), SENT + 10)
    assert outcome == NoDeck(SENT + 10)  # another spelling of the same moment is no change
    assert isinstance(decide(record, SENT + 11, outcome, window=WINDOW), WaitUntil)
    record, outcome = reconcile.edit_looked_up(record, _gamma(BEFORE), CLOSES)
    again = decide(record, CLOSES, outcome, window=WINDOW)
    assert isinstance(again, SendAgain)
    assert again.record.resubmits == 1


def test_e1_a_changed_gamma_is_the_edit_returned_only_once_it_stopped_changing() -> None:
    record, outcome = reconcile.edit_looked_up(EDIT_SENT, _gamma("2026-12-07T09:03:00Z"), SENT + 30)
    assert isinstance(outcome, DeckSeen)
    assert record.deck is not None
    assert record.deck["id"] == "g_board"
    # W2: the change counts as the first read; the gamma is read again a quiet period later.
    assert decide(record, SENT + 31, outcome, window=WINDOW, quiet=60.0) == WaitUntil(SENT + 90)
    assert decide(record, SENT + 90, outcome, window=WINDOW, quiet=60.0) == CheckDeck("g_board")
    record, outcome = deck_read(record, _gamma("2026-12-07T09:03:40Z"), SENT + 40)  # still writing
    assert isinstance(decide(record, SENT + 41, outcome, window=WINDOW, quiet=60.0), WaitUntil)
    record, outcome = deck_read(record, _gamma("2026-12-07T09:03:40Z"), SENT + 101)
    found = decide(record, SENT + 101, outcome, window=WINDOW, quiet=60.0)
    assert isinstance(found, Found)
    assert found.deck["id"] == "g_board"


def test_an_edited_gamma_without_an_updated_time_cannot_settle_the_edit() -> None:
    record, outcome = reconcile.edit_looked_up(EDIT_SENT, _gamma(None), SENT + 10)
    assert isinstance(outcome, LookupFailed)
    assert not outcome.transient
    assert isinstance(decide(record, SENT + 10, outcome, window=WINDOW), GiveUp)
    unknown_before = replace(EDIT_SENT, before=None)
    _, outcome = reconcile.edit_looked_up(unknown_before, _gamma(BEFORE), SENT + 10)
    assert isinstance(outcome, LookupFailed)
