# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Never paying twice: what a generate task does about a POST whose answer may have been lost.

Gamma has no idempotency key and no list of generations. What it does have is a ``title`` on create
and a search over gammas. So before each POST the task picks a *reference*, a short random marker
(``gx`` and 10 hex digits), appends it to the deck's title, and notes the request in a
:class:`Submission` record (its fingerprint, the marker, the time) where the next try can read it.
When the POST's answer is lost, the task looks for a gamma whose title carries the marker: found,
it is the deck; not found by the end of a bounded window, nothing was created and sending the
request again is safe.

Everything that decides whether to POST, look, wait or stop lives in this module. It does no I/O
and knows nothing of Airflow: it is handed the record, the clock (``now``, epoch seconds) and the
last lookup's outcome, and returns a decision; the operator carries it out.

When a try starts, :func:`start` reads the record an earlier try left:

S1. No record, or one of another request (another fingerprint) or of another clear of the task
    (another ``max_tries``, see below): :class:`Submit` a fresh record.
S2. The record holds Gamma's generation id: :class:`Reattach` to it (a retry never pays again).
S3. Its POST never went out, or Gamma refused it outright (no ``sent_at``): :class:`Submit`.
S4. It carries a reference: :class:`LookUpNow` for that reference's deck.
S5. Otherwise (``reconcile=False`` and the try died during its POST): :class:`GiveUp`; a deck may
    be running and billed, and nothing can find it.

After an uncertain POST, a lookup or a wait, :func:`decide` goes by the last lookup's outcome:

R1. The deck was seen: :class:`Found`.
R2. Nothing was looked up since the POST (or since this try picked the record up): :class:`LookUpNow`.
R3. Gamma refused the search for good (not a transient error): :class:`GiveUp`.
R4. The lookup came before the window (``window`` seconds from the POST) closed: :class:`WaitUntil`
    the next lookup, then :class:`LookUpNow` once that time has come. Gaps grow with the time since
    the POST, from :data:`MIN_LOOKUP_GAP` to :data:`MAX_LOOKUP_GAP`; the last lookup falls at the
    window's end.
R5. The window had closed: after a failed search, :class:`GiveUp` (nobody can tell whether a deck
    exists); after :data:`MAX_RESUBMITS` resubmissions, :class:`GiveUp`; otherwise no deck exists,
    so :class:`SendAgain` (with a new reference).

Retry or clear: Airflow fixes a task instance's ``max_tries`` when it creates it (``retries``) and
when it clears it (the try number then, plus ``retries``); a retry leaves it alone. The record keeps
the ``max_tries`` of the try that wrote it, and another value means another clear. (The first try of
a clear cannot be derived from the *current* ``retries``: once the DAG's ``retries`` changed between
tries, a retry would pass for a clear and pay again.) One case stays ambiguous: a clear that lowers
``retries`` by exactly the number of tries since the last clear keeps ``max_tries``, and is taken for
a retry, which re-attaches to the deck rather than paying for a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: importing the protocol package would import Airflow
    from airflow_provider_gamma.protocol import GammaHit

#: Gamma's ceiling for ``title``.
MAX_TITLE_LENGTH = 500
#: Lookups after an uncertain POST are at least this many seconds apart ...
MIN_LOOKUP_GAP = 5.0
#: ... and the gaps grow with the time since the POST, up to this.
MAX_LOOKUP_GAP = 60.0
#: Uncertain POSTs that found nothing and were sent again, at most, before giving up.
MAX_RESUBMITS = 2
#: Task state store key (Airflow >= 3.3) of the submission record.
STATE_KEY = "gamma_submission"

_MARKER = re.compile(r"\bgx[0-9a-f]{10}\b")


# --- the request and its reference -----------------------------------------------------------------


def new_marker() -> str:
    """A fresh reference: ``gx`` and 10 random hex digits (40 bits, so no two decks share one)."""
    return f"gx{secrets.token_hex(5)}"


def fingerprint(endpoint: str, body: Mapping[str, Any]) -> str:
    """A digest of what is asked for (endpoint and body, without the reference), stable across tries."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def default_title(text: str) -> str:
    """The first non-empty line of the input (Markdown heading marks removed), as a deck title."""
    for line in text.splitlines():
        cleaned = line.strip().lstrip("#").strip()
        if cleaned:
            return cleaned[:120]
    return "Gamma deck"


def with_reference(body: Mapping[str, Any], marker: str) -> dict[str, Any]:
    """``body`` with ``marker`` appended to its ``title`` (the user's, else one from the input text or,
    for a multi-page file, from its first page)."""
    suffix = f" [{marker}]"
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        pages = body.get("pages")
        first_page = pages[0] if isinstance(pages, list) and pages and isinstance(pages[0], Mapping) else {}
        text = (
            body.get("inputText")
            or body.get("prompt")
            or first_page.get("title")
            or first_page.get("inputText")
        )
        title = default_title(str(text or ""))
    return {**body, "title": title[: MAX_TITLE_LENGTH - len(suffix)].rstrip() + suffix}


def find_deck(hits: Sequence[GammaHit], marker: str) -> GammaHit | None:
    """The hit whose title carries ``marker`` (search matches words; the title must hold the marker)."""
    return next((hit for hit in hits if marker in _MARKER.findall(hit["title"])), None)


# --- the record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What one try noted before its POST, for itself and for the tries after it.

    :param fingerprint: :func:`fingerprint` of the request; another input is another deck.
    :param max_tries: Airflow's ``max_tries`` for the try that wrote the record: a retry keeps it,
        a clear sets it anew.
    :param sent_at: epoch seconds just before the POST; ``0`` when no POST went out or Gamma refused it.
    :param marker: the reference in the deck's title; ``None`` when reconciliation is off.
    :param generation_id: Gamma's id, once it arrived.
    :param lookups: what was looked up after an uncertain POST, one line each (the evidence).
    :param resubmits: how many times nothing was found and the request was sent again.
    """

    fingerprint: str
    max_tries: int
    sent_at: float = 0.0
    marker: str | None = None
    generation_id: str | None = None
    lookups: tuple[str, ...] = field(default=())
    resubmits: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "lookups": list(self.lookups)}

    @classmethod
    def from_json(cls, data: Any) -> Submission | None:
        """The record, or ``None`` for anything that is not one (an older provider's, or damaged)."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                fingerprint=str(data["fingerprint"]),
                max_tries=int(data["max_tries"]),
                sent_at=float(data["sent_at"]),
                marker=str(data["marker"]) if data.get("marker") else None,
                generation_id=str(data["generation_id"]) if data.get("generation_id") else None,
                lookups=tuple(str(line) for line in data.get("lookups") or ()),
                resubmits=int(data.get("resubmits") or 0),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def sending(self, marker: str | None, now: float) -> Submission:
        """This record as noted just before a POST carrying ``marker``."""
        return replace(self, marker=marker, sent_at=now, generation_id=None, lookups=())

    def refused(self) -> Submission:
        """This record once Gamma certainly started nothing (the next try submits at once)."""
        return replace(self, marker=None, sent_at=0.0)

    def noted(self, line: str, now: float) -> Submission:
        """This record with one more line of evidence, stamped ``now``."""
        stamp = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%SZ")
        return replace(self, lookups=(*self.lookups, f"{stamp} {line}"))

    def searched_since(self) -> datetime:
        """Lower bound for ``updatedAfter``: a minute before the POST, for clock skew."""
        return datetime.fromtimestamp(self.sent_at - 60, UTC)

    def evidence(self) -> str:
        """The reference, when the POST went out and what each lookup saw: for the user to check."""
        sent = datetime.fromtimestamp(self.sent_at, UTC).isoformat(timespec="seconds")
        looked = "; ".join(self.lookups[-8:]) or "no lookup yet"
        return f"reference {self.marker} in the deck title, POST sent {sent}; lookups: {looked}"


# --- what a lookup saw -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeckSeen:
    """A lookup found the deck that carries the reference."""

    deck: GammaHit
    at: float


@dataclass(frozen=True)
class NoDeck:
    """Gamma answered the lookup, and no deck carries the reference."""

    at: float


@dataclass(frozen=True)
class LookupFailed:
    """The lookup got no usable answer; ``transient`` when another lookup may get one."""

    at: float
    error: str
    transient: bool


Outcome = DeckSeen | NoDeck | LookupFailed


def searched(record: Submission, hits: Sequence[GammaHit], now: float) -> tuple[Submission, Outcome]:
    """What a search that answered with ``hits`` saw, and the record with it noted."""
    deck = find_deck(hits, record.marker) if record.marker else None
    seen = f"deck {deck['id']}" if deck else "none with it"
    outcome: Outcome = DeckSeen(deck, now) if deck else NoDeck(now)
    return record.noted(f"search: {len(hits)} hits, {seen}", now), outcome


def search_failed(
    record: Submission, error: str, *, transient: bool, now: float
) -> tuple[Submission, Outcome]:
    """A search that got no usable answer, and the record with it noted."""
    return record.noted(f"search failed: {error}", now), LookupFailed(now, error, transient)


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
    """Search for the deck that carries the record's reference."""


@dataclass(frozen=True)
class WaitUntil:
    """Wait (sleep, or defer) until ``when`` (epoch seconds), then decide again."""

    when: float


@dataclass(frozen=True)
class Found:
    """The uncertain POST made this deck: it is the task's result."""

    deck: GammaHit


@dataclass(frozen=True)
class SendAgain:
    """Gamma created nothing: POST again with this record (a new reference is picked when sending)."""

    record: Submission


@dataclass(frozen=True)
class GiveUp:
    """Stop without sending anything more; ``evidence`` tells the user what to check and why."""

    evidence: str


Decision = Submit | Reattach | LookUpNow | WaitUntil | Found | SendAgain | GiveUp

_UNSEARCHABLE = (
    "An earlier try of this task was stopped while its POST was under way, so a generation may be "
    "running and billed; with reconcile=False it cannot be looked for. Not paying again: check your "
    "Gamma workspace, then clear the task to submit anew."
)


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
    if earlier.marker:
        return LookUpNow()
    return GiveUp(_UNSEARCHABLE)


def decide(record: Submission, now: float, last: Outcome | None, *, window: float) -> Decision:
    """What to do next about the uncertain POST ``record`` notes, ``window`` seconds being how long
    after it a deck may still appear (rules R1-R5)."""
    if record.marker is None:
        return GiveUp(_UNSEARCHABLE)
    if isinstance(last, DeckSeen):
        return Found(last.deck)
    if last is None:
        return LookUpNow()
    if isinstance(last, LookupFailed) and not last.transient:
        return GiveUp(
            f"Cannot look for the deck of an uncertain POST ({last.error}), so it may be running and "
            f"billed. Check your Gamma workspace before re-running the task. {record.evidence()}"
        )
    closes = record.sent_at + window
    if last.at < closes:
        gap = min(MAX_LOOKUP_GAP, max(MIN_LOOKUP_GAP, last.at - record.sent_at))
        wake = min(last.at + gap, closes)
        return WaitUntil(wake) if now < wake else LookUpNow()
    if isinstance(last, LookupFailed):
        return GiveUp(
            "Could not find out whether Gamma started the generation: the last search failed. "
            f"Check your Gamma workspace before re-running the task. {record.evidence()}"
        )
    if record.resubmits >= MAX_RESUBMITS:
        return GiveUp(f"Gave up after {record.resubmits + 1} uncertain submissions. {record.evidence()}")
    return SendAgain(replace(record, resubmits=record.resubmits + 1))
