# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A gamma's analytics in the emulator, made up but deterministic: the same gamma answers the same
figures (the daily series follows today's date), so tests can assert them.

Field names follow a third-party client verified against Gamma's pages (see ``docs`` of
``protocol._models.GammaAnalytics``): totals with ``scope``, ``dailyViews`` as ``{dayCount, timezone,
days}``, cards with ``cardId``, ``cardName``, ``cardPosition`` (from 1), ``viewTimeSeconds``,
``viewersPercent``, viewers paged as ``{scope, gammaId, data, hasMore, nextCursor}``, at most 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from airflow_provider_gamma.testing.answers import Json
from airflow_provider_gamma.testing.exports import card_titles
from airflow_provider_gamma.testing.records import GenerationState

__all__ = ["MAX_VIEWERS", "TEMPLATES", "Analytics", "CursorError"]

MAX_VIEWERS: Final = 500
_ME: Final = "user_emulator"


class CursorError(ValueError):
    """An ``after`` cursor this emulator did not hand out."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Analytics:
    """The analytics of the emulator's gammas.

    Args:
        viewer_counts: Unique viewers per gamma id set by a test (else 3 to 80, from the id).
    """

    def __init__(self) -> None:
        self.viewer_counts: dict[str, int] = {}

    def _rng(self, gamma_id: str, what: str) -> random.Random:
        return random.Random(hashlib.sha256(f"{gamma_id}:{what}".encode()).digest())

    def viewers(self, gamma_id: str) -> int:
        """How many people viewed the gamma (uncapped: Gamma lists at most :data:`MAX_VIEWERS`)."""
        return self.viewer_counts.get(gamma_id, self._rng(gamma_id, "viewers").randint(3, 80))

    def totals(self, gamma: GenerationState, scope: str, today: date | None = None) -> Json:
        """``GET /v1.0/gammas/{id}/analytics``."""
        rng, viewers = self._rng(gamma.gamma_id, "totals"), self.viewers(gamma.gamma_id)
        if scope == "self":
            viewers = 1
        today = today or datetime.now(UTC).date()
        days = [
            {
                "date": (today - timedelta(days=29 - n)).isoformat(),
                "uniqueViewers": rng.randint(0, max(1, viewers // 4)),
            }
            for n in range(30)
        ]
        last_opened = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            hours=rng.randint(1, 48)
        )
        return {
            "scope": scope,
            "gammaId": gamma.gamma_id,
            "totalViews": viewers + rng.randint(0, viewers * 3),
            "uniqueViewers": viewers,
            "uniqueEditors": 1,
            "cardCount": gamma.num_cards,
            "lastOpened": _iso(last_opened) if viewers else None,
            "dailyViews": {"dayCount": 30, "timezone": "UTC", "days": days},
        }

    def cards(self, gamma: GenerationState, scope: str) -> Json:
        """``GET /v1.0/gammas/{id}/analytics/cards``: every card, by position, zeroed when unseen."""
        rng, viewers = self._rng(gamma.gamma_id, "cards"), self.viewers(gamma.gamma_id)
        reach = 100.0
        cards = []
        for position, name in enumerate(card_titles(gamma.title, gamma.num_cards), start=1):
            cards.append(
                {
                    "cardId": f"card_{hashlib.sha256(f'{gamma.gamma_id}:{position}'.encode()).hexdigest()[:10]}",
                    "cardName": name,
                    "cardPosition": position,
                    "viewTimeSeconds": rng.randint(3, 90) if viewers else 0,
                    "viewersPercent": round(reach, 1) if viewers else 0,
                }
            )
            reach *= rng.uniform(0.7, 0.97)
        return {
            "scope": scope,
            "gammaId": gamma.gamma_id,
            "uniqueViewers": viewers if scope == "all" else 1,
            "uniqueEditors": 1,
            "cardCount": gamma.num_cards,
            "cards": cards,
        }

    def viewer_rows(self, gamma: GenerationState, scope: str) -> list[Json]:
        """Every listed viewer, most recent open first (at most :data:`MAX_VIEWERS`; only the key's
        own user with ``scope: self``)."""
        rng = self._rng(gamma.gamma_id, "rows")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        rows = []
        for n in range(min(self.viewers(gamma.gamma_id), MAX_VIEWERS)):
            anonymous = n % 7 == 6
            viewer_id = (
                _ME if n == 0 else f"user_{hashlib.sha256(f'{gamma.gamma_id}:{n}'.encode()).hexdigest()[:12]}"
            )
            rows.append(
                {
                    "viewerId": viewer_id,
                    "displayName": None if anonymous else f"Viewer {n + 1}",
                    "email": None if anonymous else f"viewer{n + 1}@example.com",
                    "lastOpened": _iso(start - timedelta(minutes=17 * n + rng.randint(0, 16))),
                    "cardsViewed": rng.randint(1, gamma.num_cards),
                }
            )
        return rows[:1] if scope == "self" else rows

    def viewer_page(
        self, gamma: GenerationState, scope: str, *, limit: int, after: str | None, ascending: bool
    ) -> Json:
        """One page of viewers; raises :class:`CursorError` for a cursor not handed out here."""
        rows = self.viewer_rows(gamma, scope)
        if ascending:
            rows.reverse()
        offset = _offset(after, gamma.gamma_id, ascending) if after else 0
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        cursor = _cursor(offset + limit, gamma.gamma_id, ascending) if more else None
        return {
            "scope": scope,
            "gammaId": gamma.gamma_id,
            "data": page,
            "hasMore": more,
            "nextCursor": cursor,
        }


def _cursor(offset: int, gamma_id: str, ascending: bool) -> str:
    raw = json.dumps({"offset": offset, "gammaId": gamma_id, "asc": ascending}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _offset(cursor: str, gamma_id: str, ascending: bool) -> int:
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise CursorError(cursor) from None
    if not isinstance(data, dict) or data.get("gammaId") != gamma_id or data.get("asc") != ascending:
        raise CursorError(cursor)
    offset = data.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_VIEWERS:
        raise CursorError(cursor)
    return offset


def _templates() -> tuple[list[Json], list[Json]]:
    topics = (
        "Quarterly business review",
        "Weekly metrics report",
        "Board update",
        "Product launch plan",
        "Sales pitch",
        "Project kickoff",
        "Team onboarding",
        "Incident postmortem",
        "Marketing plan",
        "Investor update",
        "Customer case study",
        "Roadmap overview",
    )
    workspace = [
        {
            "id": f"g_tmpl{n:02d}{hashlib.sha256(title.encode()).hexdigest()[:9]}",
            "title": title,
            "url": f"https://gamma.app/docs/{title.replace(' ', '-')}-tmpl{n:02d}",
            "previewUrl": f"https://gamma.app/embed/tmpl{n:02d}",
        }
        for n, title in enumerate(topics[:8], start=1)
    ]
    explore = [
        {
            "id": f"explore_{n:03d}",
            "title": f"{title} ({style})",
            "url": f"https://gamma.app/templates/explore_{n:03d}",
            "thumbnailUrl": f"https://cdn.gamma.app/templates/explore_{n:03d}.png",
            "previewUrl": f"https://gamma.app/embed/explore_{n:03d}",
        }
        for n, (title, style) in enumerate(
            ((title, style) for style in ("modern", "classic", "bold") for title in topics), start=1
        )
    ]
    return workspace, explore


#: The workspace's templates (ids usable as a from-template ``gammaId``) and Gamma's official ones.
TEMPLATES: Final = _templates()


def search_templates(query: str, limit: int) -> Json:
    """``GET /v1.0/templates/search``: each list filtered by title (browse order without a query)."""
    needle = query.casefold()
    workspace, explore = (
        [item for item in items if needle in str(item["title"]).casefold()][:limit] for items in TEMPLATES
    )
    return {"workspaceTemplates": workspace, "workspaceDegraded": False, "exploreTemplates": explore}
