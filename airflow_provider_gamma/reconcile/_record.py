# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The submission record and the reference: what a try notes before its POST, how a deck is told
by its title, and the evidence a person reads when a POST cannot be settled (rules: the package's
docstring)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

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
#: The symbols of a reference: digits and consonants, so that no reference spells a word.
REFERENCE_ALPHABET = "0123456789bcdfghjkmnpqrstvwxz"
#: Symbols in a reference (see the arithmetic at the top of this module).
REFERENCE_LENGTH = 6
#: Lookups ask for what changed since this many seconds before the POST: Gamma's clock and the
#: worker's may disagree.
SEARCH_SKEW = 60.0
#: Most hits one search answers (Gamma's ceiling; it documents no further page).
SEARCH_LIMIT = 25
#: Default window, classic and template: Gamma documents that most generations complete within
#: 1-3 minutes; ten minutes covers that more than three times over, while a POST Gamma never acted
#: on is sent again after ten minutes rather than after the task's whole 30-minute ``timeout``.
CLASSIC_WINDOW = 600.0
#: Default window, agent: Gamma documents no agent duration; its runs plan and read sources before
#: writing card by card (its ``gamma`` appears while still pending), so twice the classic window.
AGENT_WINDOW = 1200.0
#: Default window, agent edits: an edit is an agent run on an existing deck (Gamma documents no
#: duration), so the agent's window.
EDIT_WINDOW = AGENT_WINDOW
#: A found deck counts as finished once its ``updatedTime`` stayed the same this long (W1).
QUIET_PERIOD = 60.0
#: The same for an agent edit settled by reading its gamma (E1): the agent may plan or read a large
#: upload between writes, so a pause of a minute is no sign that it stopped.
EDIT_QUIET_PERIOD = 300.0
#: What a reconciled deck's XCom ``generation_id`` starts with: Gamma gave no generation id, so the
#: gamma stands in for it (``gamma:<gammaId>``), which :class:`GammaGenerationSensor` accepts.
DECK_REFERENCE_PREFIX = "gamma:"

_HIT_KEYS = ("id", "title", "url", "updatedTime", "archived")


# --- the request and its reference -----------------------------------------------------------------


def new_marker() -> str:
    """A fresh reference: six random symbols of :data:`REFERENCE_ALPHABET`, e.g. ``k7q3m9``."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


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


def carries(title: str, marker: str) -> bool:
    """Whether ``title`` carries ``marker`` as a whole word (a longer word is another deck's)."""
    return re.search(rf"(?<![0-9a-z]){re.escape(marker)}(?![0-9a-z])", title.casefold()) is not None


def find_deck(hits: Sequence[GammaHit], marker: str) -> GammaHit | None:
    """The first hit whose title carries ``marker``."""
    return next((hit for hit in hits if carries(hit["title"], marker)), None)


def deck_reference(gamma_id: str) -> str:
    """The XCom ``generation_id`` of a reconciled deck: ``gamma:<gammaId>``."""
    return f"{DECK_REFERENCE_PREFIX}{gamma_id}"


def referenced_gamma(value: Any) -> str | None:
    """The gamma id in a :func:`deck_reference`, else ``None`` (e.g. for a generation id)."""
    if isinstance(value, str) and value.strip().startswith(DECK_REFERENCE_PREFIX):
        return value.strip()[len(DECK_REFERENCE_PREFIX) :].strip() or None
    return None


def reconciled_result(deck: Mapping[str, Any], export_as: str | None = None) -> dict[str, Any]:
    """What a task returns for a deck settled by search: shaped like a completed generation, with
    no ``generationId`` and no ``credits`` (Gamma reports neither for a gamma)."""
    result: dict[str, Any] = {
        "generationId": None,
        "status": "completed",
        "gammaId": deck["id"],
        "gammaUrl": deck.get("url") or "",
        "reconciled": True,
    }
    if export_as:
        result["exportAs"] = export_as
    return result


def _instant(text: str) -> float | str:
    """An ISO-8601 time as epoch seconds, so that two spellings of one moment compare equal."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return text


def _clock(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%H:%M:%SZ")


# --- the record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What one try noted before its POST, for itself and for the tries after it.

    :param fingerprint: :func:`fingerprint` of the request; another input is another deck.
    :param max_tries: Airflow's ``max_tries`` for the try that wrote the record: a retry keeps it,
        a clear sets it anew.
    :param sent_at: epoch seconds just before the POST; ``0`` when no POST went out or Gamma refused it.
    :param marker: the reference in the deck's title; ``None`` when it carries none.
    :param generation_id: Gamma's id, once it arrived.
    :param lookups: what was looked up after an uncertain POST, one line each (the evidence).
    :param resubmits: how many times nothing was found and the request was sent again.
    :param by_candidates: reconciliation is on although the request carries no reference.
    :param candidates: the gammas the latest lookup listed (``id``, ``title``, ``url``, ``updatedTime``).
    :param deck: the gamma carrying the reference, once seen.
    :param updated: its ``updatedTime`` as last read; ``quiet_since``: when that value was first seen;
        ``checked_at``: when it was last read (epoch seconds).
    :param finished: the deck was confirmed finished (W1).
    :param edit_of: for an agent edit, the gamma it edits: a lost answer is settled by reading that
        gamma (E1-E3), not by search.
    :param before: that gamma's ``updatedTime`` read just before the first POST.
    """

    fingerprint: str
    max_tries: int
    sent_at: float = 0.0
    marker: str | None = None
    generation_id: str | None = None
    lookups: tuple[str, ...] = field(default=())
    resubmits: int = 0
    by_candidates: bool = False
    candidates: tuple[Mapping[str, Any], ...] = field(default=())
    deck: Mapping[str, Any] | None = None
    updated: str | None = None
    quiet_since: float = 0.0
    checked_at: float = 0.0
    finished: bool = False
    edit_of: str | None = None
    before: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "lookups": list(self.lookups), "candidates": list(self.candidates)}

    @classmethod
    def from_json(cls, data: Any) -> Submission | None:
        """The record, or ``None`` for anything that is not one (an older provider's, or damaged)."""
        if not isinstance(data, Mapping):
            return None
        try:
            deck = data.get("deck")
            return cls(
                fingerprint=str(data["fingerprint"]),
                max_tries=int(data["max_tries"]),
                sent_at=float(data["sent_at"]),
                marker=str(data["marker"]) if data.get("marker") else None,
                generation_id=str(data["generation_id"]) if data.get("generation_id") else None,
                lookups=tuple(str(line) for line in data.get("lookups") or ()),
                resubmits=int(data.get("resubmits") or 0),
                by_candidates=data.get("by_candidates") is True,
                candidates=tuple(_hit(hit) for hit in data.get("candidates") or () if _is_hit(hit)),
                deck=_hit(deck) if _is_hit(deck) else None,
                updated=str(data["updated"]) if data.get("updated") else None,
                quiet_since=float(data.get("quiet_since") or 0.0),
                checked_at=float(data.get("checked_at") or 0.0),
                finished=data.get("finished") is True,
                edit_of=str(data["edit_of"]) if data.get("edit_of") else None,
                before=str(data["before"]) if data.get("before") else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def sending(self, marker: str | None, now: float, *, by_candidates: bool = False) -> Submission:
        """This record as noted just before a POST carrying ``marker`` (``None``: no reference, and
        then a lost answer is looked for among candidates only with ``by_candidates``)."""
        return replace(
            Submission(
                self.fingerprint,
                self.max_tries,
                resubmits=self.resubmits,
                edit_of=self.edit_of,
                before=self.before,
            ),
            marker=marker,
            sent_at=now,
            by_candidates=marker is None and by_candidates,
        )

    def editing(self, gamma_id: str, updated: str | None) -> Submission:
        """This record for an agent edit of ``gamma_id``, whose ``updatedTime`` before the first POST
        was ``updated`` (kept by later sends: a resend must not hide a change the first one made)."""
        return replace(self, edit_of=gamma_id, before=self.before if self.sent_at else updated)

    def refused(self) -> Submission:
        """This record once Gamma certainly started nothing (the next try submits at once)."""
        return replace(self, marker=None, sent_at=0.0, by_candidates=False)

    def noted(self, line: str, now: float) -> Submission:
        """This record with one more line of evidence, stamped ``now``."""
        return replace(self, lookups=(*self.lookups, f"{_clock(now)} {line}"))

    def settled(self) -> Submission:
        """This record once its deck was confirmed finished: a retry returns it at once."""
        return replace(self, finished=True)

    def searched_since(self) -> datetime:
        """Lower bound for ``updatedAfter``: :data:`SEARCH_SKEW` before the POST, for clock skew."""
        return datetime.fromtimestamp(self.sent_at - SEARCH_SKEW, UTC)

    def evidence(self) -> str:
        """How the deck was to be found, when the POST went out, what each lookup saw and the deck
        found, if any: for the user to check."""
        sent = datetime.fromtimestamp(self.sent_at, UTC).isoformat(timespec="seconds")
        if self.edit_of:
            how = f"an edit of gamma {self.edit_of}, updated {self.before or '(unknown)'} before the POST"
        elif self.marker:
            how = f"reference {self.marker} in the deck title"
        else:
            how = "no reference in the title (the agent takes no title, or title_reference is off)"
        looked = "; ".join(self.lookups[-8:]) or "no lookup yet"
        text = f"{how}, POST sent {sent}; lookups: {looked}"
        if self.deck is not None:
            text += f"; deck found: {_describe(self.deck)}"
        return text

    def listing(self) -> str:
        """The candidates, one line each, newest first, for a person to pick from."""
        if not self.candidates:
            return ""
        since = self.searched_since().strftime("%Y-%m-%d %H:%M:%SZ")
        lines = "".join(f"\n  - {_describe(hit)}" for hit in self.candidates)
        return (
            f"\nGammas your key's user changed since {since} ({len(self.candidates)}, newest first):{lines}"
        )


def _is_hit(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("id"), str)
        and isinstance(value.get("title"), str)
    )


def _hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    return {key: hit[key] for key in _HIT_KEYS if hit.get(key) is not None}


def _describe(hit: Mapping[str, Any]) -> str:
    updated = f", updated {hit['updatedTime']}" if hit.get("updatedTime") else ""
    archived = ", archived" if hit.get("archived") else ""
    return f"{hit.get('title', '')!r} {hit.get('url') or ''} (gamma {hit['id']}{updated}{archived})"
