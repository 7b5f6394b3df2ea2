# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a generate task remembers about its POST, and how it finds a deck whose id never arrived.

Gamma has no idempotency key and no list of generations. What it does have is a ``title`` on create
and a search over gammas. So before each POST the task picks a *reference*, a short random marker
(``gx`` and 10 hex digits), appends it to the deck's title, and notes the request (its fingerprint,
the marker, the time) where the next try can read it. When the POST's answer is lost, the task looks
for a gamma whose title carries the marker: found, it is the deck; not found by the end of a bounded
window, nothing was created and submitting again is safe. No I/O here: the operator does the asking.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_provider_gamma.protocol import GammaHit

#: Gamma's ceiling for ``title``.
MAX_TITLE_LENGTH = 500
#: The first lookup after an uncertain POST comes this many seconds after it was sent ...
FIRST_LOOKUP_AFTER = 5.0
#: ... and the gaps between lookups then double, up to this.
MAX_LOOKUP_GAP = 60.0
#: Task state store key (Airflow >= 3.3) of the submission record.
STATE_KEY = "gamma_submission"

_MARKER = re.compile(r"\bgx[0-9a-f]{10}\b")


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


@dataclass
class Submission:
    """What one try noted before its POST, for itself and for the tries after it.

    :param fingerprint: :func:`fingerprint` of the request; another input is another deck.
    :param clear_epoch: the first try number since the task was last cleared (or first ran); a later
        try of the same epoch is a retry, a different epoch is a clear or a new run.
    :param sent_at: epoch seconds just before the POST.
    :param marker: the reference in the deck's title; ``None`` when reconciliation is off.
    :param generation_id: Gamma's id, once it arrived.
    :param lookups: what was looked up after an uncertain POST, one line each (the evidence).
    :param resubmits: how many times nothing was found and the request was sent again.
    """

    fingerprint: str
    clear_epoch: int
    sent_at: float
    marker: str | None = None
    generation_id: str | None = None
    lookups: list[str] = field(default_factory=list)
    resubmits: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Submission | None:
        """The record, or ``None`` for anything that is not one (an older provider's, or damaged)."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                fingerprint=str(data["fingerprint"]),
                clear_epoch=int(data["clear_epoch"]),
                sent_at=float(data["sent_at"]),
                marker=str(data["marker"]) if data.get("marker") else None,
                generation_id=str(data["generation_id"]) if data.get("generation_id") else None,
                lookups=[str(line) for line in data.get("lookups") or []],
                resubmits=int(data.get("resubmits") or 0),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def same_request(self, other_fingerprint: str, clear_epoch: int) -> bool:
        """Whether this record is of the same request by the same clear of the task (a retry)."""
        return self.fingerprint == other_fingerprint and self.clear_epoch == clear_epoch

    def searched_since(self) -> datetime:
        """Lower bound for ``updatedAfter``: a minute before the POST, for clock skew."""
        return datetime.fromtimestamp(self.sent_at - 60, UTC)

    def next_lookup(self, now: float, window: float) -> float | None:
        """When to look again (epoch seconds), or ``None`` once the window has closed."""
        end = self.sent_at + window
        if now >= end:
            return None
        waited = now - self.sent_at
        gap = min(MAX_LOOKUP_GAP, max(FIRST_LOOKUP_AFTER, waited))
        return min(now + gap, end)

    def note(self, line: str, now: float) -> None:
        stamp = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%SZ")
        self.lookups.append(f"{stamp} {line}")

    def evidence(self) -> str:
        sent = datetime.fromtimestamp(self.sent_at, UTC).isoformat(timespec="seconds")
        looked = "; ".join(self.lookups[-8:]) or "no lookup yet"
        return f"reference {self.marker} in the deck title, POST sent {sent}; lookups: {looked}"


def clear_epoch(try_number: int, max_tries: int, retries: int) -> int:
    """The first try number of the task's current clear: Airflow sets ``max_tries`` to the try
    number at the clear plus ``retries`` (and to ``retries`` on the first run)."""
    return max(1, min(try_number, max_tries - retries + 1))
