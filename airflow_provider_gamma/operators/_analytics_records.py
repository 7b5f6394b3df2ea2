# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The rows :class:`~airflow_provider_gamma.operators.analytics.GammaAnalyticsToObjectStorageOperator`
lands, one JSON object per line: the file's layout, written once and kept free of I/O.

Every row starts with the same envelope (snake_case, this provider's), then Gamma's own fields under
Gamma's own (camelCase) names, passed through as Gamma sent them:

======================  ========================================================================
``record_type``         ``deck``, ``daily_views``, ``card`` or ``viewer``
``gamma_id``            the gamma (Gamma's canonical file id, as its analytics answer names it)
``scope``               Gamma's ``scope`` of the answer the row comes from: ``all`` (every viewer)
                        or ``self`` (only the API key owner's own activity)
``fetched_at``          when the answer arrived (ISO-8601, UTC)
``logical_date``        the run's logical date (ISO-8601), ``null`` for a run that has none
``run_id``              the Airflow run that landed the file
======================  ========================================================================

* ``deck``: one per gamma, ``GET /v1.0/gammas/{id}/analytics`` as answered (``totalViews``,
  ``uniqueViewers``, ``uniqueEditors``, ``cardCount``, ``lastOpened``, ...) without ``dailyViews``,
  which becomes the ``daily_views`` rows (or stays here as sent, if it is neither of the shapes below).
* ``daily_views``: one per day of ``dailyViews`` (``date``, ``uniqueViewers``, ...), plus its
  ``timezone``. Read as an object ``{dayCount, timezone, days: [...]}`` or as a bare list of days
  (sources disagree on the shape; both are read).
* ``card``: one per item of ``cards`` in ``GET .../analytics/cards`` (``cardId``, ``cardName``,
  ``cardPosition``, ``viewTimeSeconds``, ``viewersPercent``, ...).
* ``viewer``: one per viewer of ``GET .../analytics/viewers`` (``viewerId``, ``displayName``,
  ``email``, ``lastOpened``, ``cardsViewed``, ...), with the identity kept, hashed or dropped
  (:data:`VIEWER_IDENTITIES`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

RecordType = Literal["deck", "daily_views", "card", "viewer"]
RECORD_TYPES: tuple[RecordType, ...] = ("deck", "daily_views", "card", "viewer")

#: What a viewer row says about the person: ``keep`` Gamma's ``displayName`` and ``email``; ``hash``
#: both away but for ``emailSha256`` (the SHA-256 of the trimmed, lower-cased address: joinable,
#: pseudonymous, not anonymous); ``drop`` both (``viewerId``, Gamma's opaque id, stays).
ViewerIdentity = Literal["keep", "hash", "drop"]
VIEWER_IDENTITIES: tuple[ViewerIdentity, ...] = ("keep", "hash", "drop")
_PERSONAL = ("displayName", "email")


def envelope(
    record_type: RecordType, gamma_id: str, scope: Any, fetched_at: str, run: Mapping[str, Any]
) -> dict[str, Any]:
    """The keys every row starts with; ``run`` holds ``logical_date`` and ``run_id``."""
    return {
        "record_type": record_type,
        "gamma_id": gamma_id,
        "scope": scope,
        "fetched_at": fetched_at,
        "logical_date": run.get("logical_date"),
        "run_id": run.get("run_id"),
    }


def _row(head: dict[str, Any], fields: Mapping[str, Any], *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Gamma's ``fields`` after the envelope; a Gamma key spelled like an envelope key loses."""
    return {**head, **{k: v for k, v in fields.items() if k not in skip and k not in head}}


def deck_rows(
    gamma_id: str, analytics: Mapping[str, Any], fetched_at: str, run: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """The ``deck`` row and the ``daily_views`` rows of one analytics answer."""
    scope = analytics.get("scope")
    daily = analytics.get("dailyViews")
    days, timezone = (
        (daily.get("days"), daily.get("timezone")) if isinstance(daily, Mapping) else (daily, None)
    )
    if not isinstance(days, list):  # neither shape: the deck row keeps dailyViews as sent
        days = None
    skip = ("gammaId", "scope") if days is None else ("gammaId", "scope", "dailyViews")
    yield _row(envelope("deck", gamma_id, scope, fetched_at, run), analytics, skip=skip)
    for day in days or ():
        fields = dict(day) if isinstance(day, Mapping) else {"value": day}
        if timezone is not None:
            fields.setdefault("timezone", timezone)
        yield _row(envelope("daily_views", gamma_id, scope, fetched_at, run), fields)


def card_rows(
    gamma_id: str, cards: Mapping[str, Any], fetched_at: str, run: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """One ``card`` row per item of the cards answer's ``cards``; its deck-wide totals are in the
    ``deck`` row already."""
    items = cards.get("cards")
    for card in items if isinstance(items, list) else ():
        head = envelope("card", gamma_id, cards.get("scope"), fetched_at, run)
        yield _row(head, card if isinstance(card, Mapping) else {"value": card})


def viewer_rows(
    gamma_id: str,
    viewers: Sequence[Mapping[str, Any]],
    scope: Any,
    fetched_at: str,
    run: Mapping[str, Any],
    identity: ViewerIdentity,
) -> Iterator[dict[str, Any]]:
    """One ``viewer`` row per viewer, the person's identity as ``identity`` says."""
    for viewer in viewers:
        head = envelope("viewer", gamma_id, viewer.get("scope", scope), fetched_at, run)
        if identity == "keep":
            yield _row(head, viewer)
            continue
        row = _row(head, viewer, skip=_PERSONAL)
        if identity == "hash":
            row["emailSha256"] = email_sha256(viewer.get("email"))
        yield row


def email_sha256(email: Any) -> str | None:
    """The SHA-256 (hex) of an address, trimmed and lower-cased; ``None`` for no address (Gamma gives
    none for anonymous viewers)."""
    if not isinstance(email, str) or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def json_line(row: Mapping[str, Any]) -> bytes:
    """One row as strict JSON (no NaN), UTF-8, ending in a newline."""
    return (json.dumps(row, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode()
