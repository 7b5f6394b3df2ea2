# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a lookup saw, and the decisions the rules S1-S5, R1-R6 and W1-W3 (the package's docstring)
draw from the record, the clock and the last outcome. No I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_gamma.reconcile._record import (
    MAX_LOOKUP_GAP,
    MAX_RESUBMITS,
    MIN_LOOKUP_GAP,
    SEARCH_LIMIT,
    Submission,
    _hit,
    _instant,
    _is_hit,
    carries,
    find_deck,
)

if TYPE_CHECKING:  # a type only: importing the protocol package would import Airflow
    from airflow_provider_gamma.protocol import GammaHit


# --- what a lookup saw -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeckSeen:
    """A lookup found the one deck that carries the reference."""

    deck: GammaHit
    at: float


@dataclass(frozen=True)
class NoDeck:
    """Gamma answered the lookup, and no deck carries the reference (the record keeps what it listed);
    ``complete`` is false when the answer was full, so more gammas may have changed than it showed."""

    at: float
    complete: bool = True


@dataclass(frozen=True)
class Ambiguous:
    """Two or more gammas carry the reference."""

    decks: tuple[GammaHit, ...]
    at: float


@dataclass(frozen=True)
class DeckRead:
    """The found deck was read (``GET /v1.0/gammas/{id}``): ``updated`` is its ``updatedTime``,
    ``changed`` whether that differs from the read before, taken at ``previous`` (epoch seconds)."""

    at: float
    updated: str | None
    changed: bool = True
    previous: float = 0.0


@dataclass(frozen=True)
class LookupFailed:
    """The lookup got no usable answer; ``transient`` when another lookup may get one;
    ``not_enabled`` when Gamma answered that search is not enabled for the workspace."""

    at: float
    error: str
    transient: bool
    not_enabled: bool = False


Outcome = DeckSeen | NoDeck | Ambiguous | DeckRead | LookupFailed


def needs_query(record: Submission, listing: Sequence[GammaHit]) -> bool:
    """Whether a listing answered full and without the reference, so that the reference itself must
    be searched for: the deck may have changed earlier than the newest :data:`SEARCH_LIMIT` gammas."""
    return (
        bool(record.marker)
        and len(listing) >= SEARCH_LIMIT
        and find_deck(listing, record.marker or "") is None
    )


def searched(
    record: Submission, hits: Sequence[GammaHit], now: float, *, complete: bool = True
) -> tuple[Submission, Outcome]:
    """What a search that answered with ``hits`` saw, and the record with it (and the candidates)
    noted; ``complete``: the listing was not cut at :data:`SEARCH_LIMIT`."""
    listed = list({hit["id"]: _hit(hit) for hit in hits if _is_hit(hit)}.values())
    record = replace(record, candidates=tuple(listed))
    if not record.marker:
        return record.noted(f"search: {len(listed)} hits", now), NoDeck(now, complete)
    decks = [hit for hit in listed if carries(hit["title"], record.marker)]
    if len(decks) > 1:
        noted = record.noted(f"search: {len(listed)} hits, {len(decks)} with it", now)
        return noted, Ambiguous(tuple(decks), now)  # type: ignore[arg-type]
    if not decks:
        return record.noted(f"search: {len(listed)} hits, none with it", now), NoDeck(now, complete)
    deck = decks[0]
    record = record.noted(f"search: {len(listed)} hits, deck {deck['id']}", now)
    if record.deck is None:
        record = replace(record, deck=deck, updated=deck.get("updatedTime"), quiet_since=now, checked_at=now)
    return record, DeckSeen(deck, now)  # type: ignore[arg-type]


def search_failed(
    record: Submission, error: str, *, transient: bool, now: float, not_enabled: bool = False
) -> tuple[Submission, Outcome]:
    """A search that got no usable answer, and the record with it noted."""
    return record.noted(f"search failed: {error}", now), LookupFailed(now, error, transient, not_enabled)


def deck_read(record: Submission, gamma: Mapping[str, Any], now: float) -> tuple[Submission, Outcome]:
    """What reading the found deck (``GET /v1.0/gammas/{id}``) saw, and the record with it noted."""
    updated = gamma.get("updatedTime") if isinstance(gamma.get("updatedTime"), str) else None
    same = (
        updated is not None and record.updated is not None and _instant(updated) == _instant(record.updated)
    )
    known = record.deck or {"id": gamma["id"]}
    fresh = {key: gamma[key] for key in ("title", "url", "updatedTime") if isinstance(gamma.get(key), str)}
    deck = {**known, **fresh}
    outcome = DeckRead(now, updated, changed=not same, previous=record.checked_at)
    record = replace(
        record, deck=deck, updated=updated, quiet_since=record.quiet_since if same else now, checked_at=now
    )
    return record.noted(f"deck {deck['id']} updated {updated or '(not given)'}", now), outcome


def edit_looked_up(record: Submission, gamma: Mapping[str, Any], now: float) -> tuple[Submission, Outcome]:
    """What reading the edited gamma after an uncertain edit POST saw (rules E1-E2): its
    ``updatedTime`` moved since the record's ``before`` (the edit took effect, or is writing), or not."""
    updated = gamma.get("updatedTime") if isinstance(gamma.get("updatedTime"), str) else None
    if updated is None or record.before is None:
        why = "Gamma reports no updatedTime for the edited gamma, so whether the edit took effect cannot be told"
        return record.noted(f"gamma {record.edit_of}: no updatedTime to compare", now), LookupFailed(
            now, why, transient=False
        )
    if _instant(updated) == _instant(record.before):
        return record.noted(f"gamma {record.edit_of} unchanged since before the POST", now), NoDeck(now)
    deck: Any = {
        "id": str(gamma.get("id") or record.edit_of),
        **{key: gamma[key] for key in ("title", "url") if isinstance(gamma.get(key), str)},
        "updatedTime": updated,
    }
    record = replace(record, deck=deck, updated=updated, quiet_since=now, checked_at=now)
    return record.noted(f"gamma {deck['id']} changed since the POST: updated {updated}", now), DeckSeen(
        deck, now
    )


def read_failed(record: Submission, error: str, *, transient: bool, now: float) -> tuple[Submission, Outcome]:
    """Reading the found deck got no usable answer, and the record with it noted."""
    deck = record.deck["id"] if record.deck else "found"
    return record.noted(f"reading deck {deck} failed: {error}", now), LookupFailed(now, error, transient)


# --- decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    """POST the request with this record, not sent yet; ``reason`` says why an earlier try's record
    does not count, when there was one."""

    record: Submission
    reason: str = ""


@dataclass(frozen=True)
class Reattach:
    """Follow the generation an earlier try of this clear started."""

    generation_id: str


@dataclass(frozen=True)
class LookUpNow:
    """Search for the deck (or the candidates) of the record's POST."""


@dataclass(frozen=True)
class CheckDeck:
    """Read the found deck (``GET /v1.0/gammas/{id}``) to see whether it is still being written."""

    gamma_id: str


@dataclass(frozen=True)
class WaitUntil:
    """Wait (sleep, or defer) until ``when`` (epoch seconds), then decide again."""

    when: float


@dataclass(frozen=True)
class Found:
    """The uncertain POST made this deck, and it is finished: it is the task's result."""

    deck: GammaHit


@dataclass(frozen=True)
class SendAgain:
    """Gamma created nothing: POST again with this record (a new reference is picked when sending)."""

    record: Submission


@dataclass(frozen=True)
class GiveUp:
    """Stop without sending anything more; ``evidence`` tells the user what to check and why."""

    evidence: str


Decision = Submit | Reattach | LookUpNow | CheckDeck | WaitUntil | Found | SendAgain | GiveUp

_UNSEARCHABLE = (
    "An earlier try of this task was stopped while its POST was under way, so a generation may be "
    "running and billed; with reconcile=False it cannot be looked for. Not paying again: check your "
    "Gamma workspace, then clear the task to submit anew."
)
_NOT_ENABLED = (
    "Gamma's search is not enabled for this workspace yet (Gamma rolls it out gradually), so a POST "
    "whose answer is lost cannot be settled automatically: search failed, and a generation may be "
    "running and billed. Not paying again: check your Gamma workspace for a gamma made since the POST "
    "before re-running the task."
)
_RESOLVE = (
    "\nIf one of them is this task's deck, land it with GammaExportToObjectStorageOperator(gamma_id=...) "
    "and mark this task successful; if none is, clear the task to send the request again."
)


def give_up(record: Submission, why: str) -> GiveUp:
    """:class:`GiveUp` with ``why``, the evidence and, when there are any, the candidates."""
    listing = record.listing()
    return GiveUp(f"{why} {record.evidence()}{listing}{_RESOLVE if listing else ''}")


def resume(record: Submission) -> Decision:
    """Where looking for the deck of the record's POST carries on, in a new try or after a wait in
    the triggerer (rule S4)."""
    if record.deck is not None:
        return Found(record.deck) if record.finished else CheckDeck(record.deck["id"])  # type: ignore[arg-type]
    if record.marker or record.by_candidates or record.edit_of:
        return LookUpNow()
    return GiveUp(_UNSEARCHABLE)


def start(earlier: Submission | None, this: Submission) -> Decision:
    """What a try does first about ``this`` request (a record not sent yet), given the record an
    earlier try left (rules S1-S5)."""
    if earlier is None:
        return Submit(this)
    if earlier.fingerprint != this.fingerprint:
        return Submit(this, "The task state store holds the deck of another input")
    if earlier.max_tries != this.max_tries:
        return Submit(this, "The task state store holds the deck of an earlier run or clear")
    if earlier.generation_id:
        return Reattach(earlier.generation_id)
    if not earlier.sent_at:
        return Submit(this)
    return resume(earlier)


def decide(
    record: Submission,
    now: float,
    last: Outcome | None,
    *,
    window: float,
    quiet: float = 0.0,
    finish_by: float = math.inf,
) -> Decision:
    """What to do next about the uncertain POST ``record`` notes (rules R1-R6, W1-W3).

    :param window: how long after the POST a deck may still appear in search, in seconds.
    :param quiet: how long a found deck must stay unchanged to count as finished; 0 takes a deck as
        finished when it is seen.
    :param finish_by: seconds after the POST by which a found deck must be finished.
    """
    if record.marker is None and not record.by_candidates and not record.edit_of:
        return GiveUp(_UNSEARCHABLE)
    if isinstance(last, LookupFailed) and last.not_enabled:
        return give_up(record, _NOT_ENABLED)
    if isinstance(last, Ambiguous):
        return give_up(record, f"{len(last.decks)} gammas carry this task's reference; not picking one.")
    if isinstance(last, DeckSeen) and quiet <= 0:
        return Found(last.deck)
    if isinstance(last, DeckSeen) and record.deck is None:
        return CheckDeck(last.deck["id"])
    if record.deck is not None:
        return _watch(record, now, last, quiet=quiet, finish_by=finish_by)
    if last is None:
        return LookUpNow()
    if isinstance(last, LookupFailed) and not last.transient:
        return give_up(
            record,
            f"Cannot look for the deck of an uncertain POST ({last.error}), so it may be running and "
            "billed. Check your Gamma workspace before re-running the task.",
        )
    closes = record.sent_at + window
    if last.at < closes:
        gap = min(MAX_LOOKUP_GAP, max(MIN_LOOKUP_GAP, last.at - record.sent_at))
        wake = min(last.at + gap, closes)
        return WaitUntil(wake) if now < wake else LookUpNow()
    if isinstance(last, LookupFailed):
        return give_up(
            record,
            "Could not find out whether Gamma started the generation: the last search failed. "
            "Check your Gamma workspace before re-running the task.",
        )
    if isinstance(last, NoDeck) and not last.complete:
        return give_up(
            record,
            f"More than {SEARCH_LIMIT} gammas of your key's user changed since the POST, so whether one "
            "is this task's deck cannot be ruled out. Not paying again.",
        )
    if not record.marker and record.candidates:
        return give_up(
            record,
            "A POST whose answer was lost may have made one of these gammas; with no reference in the "
            "title, the task cannot tell which, so it picks none and pays nothing more.",
        )
    if record.resubmits >= MAX_RESUBMITS:
        return give_up(record, f"Gave up after {record.resubmits + 1} uncertain submissions.")
    return SendAgain(replace(record, resubmits=record.resubmits + 1))


def _watch(
    record: Submission, now: float, last: Outcome | None, *, quiet: float, finish_by: float
) -> Decision:
    """Rules W1-W3 for the deck ``record`` found."""
    deck: Any = record.deck
    deadline = record.sent_at + finish_by
    if record.finished:
        return Found(deck)
    if isinstance(last, DeckRead) and last.updated is None:
        return give_up(
            record,
            f"Gamma reports no updatedTime for gamma {deck['id']}, so whether it is finished "
            "cannot be told; it is not returned as finished.",
        )
    if isinstance(last, LookupFailed) and (not last.transient or now >= deadline):
        return give_up(
            record, f"The deck of the uncertain POST was found, then could not be read ({last.error})."
        )
    if record.updated is not None and record.checked_at - record.quiet_since >= quiet:
        return Found(deck)
    if isinstance(last, DeckRead) and last.changed and last.previous >= deadline:
        return give_up(
            record,
            f"The deck of the uncertain POST was found but was still changing {finish_by / 60:.0f} min "
            "after the POST (a slow generation, or someone editing it), so it is not returned as finished.",
        )
    if isinstance(last, LookupFailed):
        wake = last.at + MIN_LOOKUP_GAP
    else:
        wake = record.quiet_since + quiet if record.updated is not None else now
    return WaitUntil(wake) if now < wake else CheckDeck(deck["id"])
