# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Never paying twice: what a generate task does about a POST whose answer may have been lost.

Gamma has no idempotency key and no list of generations. It has a ``title`` on create (classic and
template; the agent takes none) and a search over gammas that can be narrowed to the key's user
(``createdBy=me``) and to what changed since a moment (``updatedAfter``). Before each POST the task
notes a :class:`Submission` record (the request's fingerprint, the time, how its deck will be
found) where the next try can read it. A lost answer is then settled one of two ways:

* **By reference** (classic and template, by default): a short random reference rides at the end
  of the title, ``Weekly figures [k7q3m9]``; the one gamma whose title carries it is the deck.
* **Among candidates** (the agent; or the reference switched off with ``title_reference=False`` on
  the task, or ``"title_reference": false`` in the connection's extra): no gamma can be told apart,
  so every gamma the key's user changed since the POST is a candidate. None by the end of the
  window means Gamma made nothing; any means the task cannot tell which (if any) is its deck and
  fails, listing them (title, URL, time), never picking one.

Each lookup is one search, ``createdBy=me`` and ``updatedAfter`` a minute (:data:`SEARCH_SKEW`)
before the POST, newest first: it finds the deck and lists the candidates at once. When that answer
is full (:data:`SEARCH_LIMIT`, and Gamma documents no further page) and lacks the reference, a
second search asks for the reference itself, and the listing counts as incomplete.

How short the reference can be. A wrong deck needs Gamma to have made nothing for this POST *and*
another deck of the same user, changed within the window, to carry the same reference (two decks
carrying it fail the task, R6). Only this provider writes references, each drawn at random from 29
symbols (digits and consonants: no words, no ``l``/``1`` or ``o``/``0`` to mix up), so with N decks
with a reference made by the key's user within the window, P(wrong deck) <= N / 29^L per uncertain
POST. The title before the reference is not compared (Gamma may normalise a title, and a miss would
pay twice), so N counts every such deck whatever its title, as a backfill of one task would anyway.
With L = 6 (29^6 = 5.9e8): N = 1,000 (a thousand decks within one ten-minute window on one key,
beyond any real workload) gives 1.7e-6, a busy key's N = 20 gives 3.4e-8, and an uncertain POST is
itself rare (a 5xx or a timeout on the POST). L = 5 (2.1e7) would give 1 in 20,000 at N = 1,000.

The window (how long after the POST a deck may still appear) follows Gamma's pace, not the task's
patience: :data:`CLASSIC_WINDOW`, ten minutes, for classic and template (Gamma documents that most
generations complete within 1-3 minutes), :data:`AGENT_WINDOW`, twenty, for the agent (Gamma
documents no agent duration). A POST Gamma never acted on is sent again once it closes, rather than
after the task's whole ``timeout`` (30 or 60 minutes).

Everything that decides whether to POST, look, wait or stop lives in this package. It does no I/O
and knows nothing of Airflow: it is handed the record, the clock (``now``, epoch seconds) and the
last lookup's outcome, and returns a decision; the operator carries it out.

When a try starts, :func:`start` reads the record an earlier try left:

S1. No record, or one of another request (another fingerprint) or of another clear of the task
    (another ``max_tries``, see below): :class:`Submit` a fresh record.
S2. The record holds Gamma's generation id: :class:`Reattach` to it (a retry never pays again).
S3. Its POST never went out, or Gamma refused it outright (no ``sent_at``): :class:`Submit`.
S4. It can be looked for (a reference, or candidates): carry on where it stopped (:func:`resume`):
    :class:`LookUpNow`, or :class:`CheckDeck` for a deck already found, or :class:`Found` for one
    already confirmed finished.
S5. Otherwise (``reconcile=False`` and the try died during its POST): :class:`GiveUp`; a deck may
    be running and billed, and nothing can find it.

After an uncertain POST, a lookup or a wait, :func:`decide` goes by the last outcome:

R1. The one deck carrying the reference was seen: watch it (W1-W3) until it is finished, then
    :class:`Found`. Search hits carry no status and may be decks still being written.
R2. Nothing was looked up since the POST (or since this try picked the record up): :class:`LookUpNow`.
R3. Search is not enabled for the workspace (403), or refused for good: :class:`GiveUp` at once,
    saying so.
R4. The lookup came before the window (``window`` seconds from the POST) closed: :class:`WaitUntil`
    the next lookup, then :class:`LookUpNow` once that time has come. Gaps grow with the time since
    the POST, from :data:`MIN_LOOKUP_GAP` to :data:`MAX_LOOKUP_GAP`; the last lookup falls at the
    window's end.
R5. The window had closed: :class:`GiveUp` after a failed search (nobody can tell whether a deck
    exists), after an incomplete listing, with candidates (no reference: which is the deck?), or
    after :data:`MAX_RESUBMITS` resubmissions; otherwise no deck exists, so :class:`SendAgain`.
R6. Two or more gammas carry the reference: :class:`GiveUp`, listing them.

W1. The deck's ``updatedTime`` (``GET /v1.0/gammas/{id}``) stayed the same between two reads at
    least ``quiet`` seconds apart (the search hit's counts as the first): :class:`Found`. Gamma
    writes a deck card by card and most decks are done within 1-3 minutes, so a running generation
    touches its document every few seconds; a quiet minute (:data:`QUIET_PERIOD`; the operator
    shortens it to the window when that is shorter) means it has stopped.
W2. Otherwise :class:`WaitUntil` a ``quiet`` period after the last change, then :class:`CheckDeck`.
W3. Seen changing between two reads both taken ``finish_by`` seconds or more after the POST,
    unreadable for good (404: deleted), or read without an ``updatedTime``: :class:`GiveUp`, naming
    the deck. Never a half-written deck.

An agent edit (``POST /v1.0/agent/gammas/{id}/edits``) changes a gamma that exists, under its own id and
link, so nothing new appears in search: a lost answer is settled by reading that gamma. Before the
first POST the task notes the gamma's ``updatedTime`` (``before``); Gamma runs one edit per gamma at a
time and moves ``updatedTime`` as an edit writes. The rules above hold with a lookup being that read:

E1. The gamma's ``updatedTime`` differs from ``before``: the edit took effect (R1), and the gamma is
    watched until finished (W1-W3, with :data:`EDIT_QUIET_PERIOD`, five minutes) before it is returned. Someone else's change to the deck in that
    window is indistinguishable from the edit's; the result says it was settled this way.
E2. It equals ``before``: nothing changed yet (R4), or, once the :data:`EDIT_WINDOW` closed, Gamma made
    no edit, so the edit is sent again (R5).
E3. A resent edit refused because an edit of the gamma is running: the first POST's edit is running
    after all; the lookups carry on (the refusal is evidence, not a failure).

Retry or clear: Airflow fixes a task instance's ``max_tries`` when it creates it (``retries``) and
when it clears it (the try number then, plus ``retries``); a retry leaves it alone. The record keeps
the ``max_tries`` of the try that wrote it, and another value means another clear. (The first try of
a clear cannot be derived from the *current* ``retries``: once the DAG's ``retries`` changed between
tries, a retry would pass for a clear and pay again.) One case stays ambiguous: a clear that lowers
``retries`` by exactly the number of tries since the last clear keeps ``max_tries``, and is taken for
a retry, which re-attaches to the deck rather than paying for a new one.
"""

from __future__ import annotations

from airflow_provider_gamma.reconcile._record import (
    AGENT_WINDOW,
    CLASSIC_WINDOW,
    DECK_REFERENCE_PREFIX,
    EDIT_QUIET_PERIOD,
    EDIT_WINDOW,
    MAX_LOOKUP_GAP,
    MAX_RESUBMITS,
    MAX_TITLE_LENGTH,
    MIN_LOOKUP_GAP,
    QUIET_PERIOD,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    SEARCH_LIMIT,
    SEARCH_SKEW,
    STATE_KEY,
    Submission,
    carries,
    deck_reference,
    default_title,
    find_deck,
    fingerprint,
    new_marker,
    reconciled_result,
    referenced_gamma,
    with_reference,
)
from airflow_provider_gamma.reconcile._rules import (
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
    Submit,
    WaitUntil,
    decide,
    deck_read,
    edit_looked_up,
    give_up,
    needs_query,
    read_failed,
    resume,
    search_failed,
    searched,
    start,
)

__all__ = [
    "AGENT_WINDOW",
    "CLASSIC_WINDOW",
    "DECK_REFERENCE_PREFIX",
    "EDIT_QUIET_PERIOD",
    "EDIT_WINDOW",
    "MAX_LOOKUP_GAP",
    "MAX_RESUBMITS",
    "MAX_TITLE_LENGTH",
    "MIN_LOOKUP_GAP",
    "QUIET_PERIOD",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "SEARCH_LIMIT",
    "SEARCH_SKEW",
    "STATE_KEY",
    "Ambiguous",
    "CheckDeck",
    "Decision",
    "DeckRead",
    "DeckSeen",
    "Found",
    "GiveUp",
    "LookUpNow",
    "LookupFailed",
    "NoDeck",
    "Outcome",
    "Reattach",
    "SendAgain",
    "Submission",
    "Submit",
    "WaitUntil",
    "carries",
    "decide",
    "deck_read",
    "deck_reference",
    "default_title",
    "edit_looked_up",
    "find_deck",
    "fingerprint",
    "give_up",
    "needs_query",
    "new_marker",
    "read_failed",
    "reconciled_result",
    "referenced_gamma",
    "resume",
    "search_failed",
    "searched",
    "start",
    "with_reference",
]
