# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Themes and folders served by the emulator, with Gamma's cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["Catalog", "CursorError", "default_folders", "default_themes"]

_THEME_NAMES: Final = (
    "Standard Dark",
    "Standard Light",
    "Oasis",
    "Chisel",
    "Aurora",
    "Basalt",
    "Breeze",
    "Canvas",
    "Chimney Smoke",
    "Cigar",
    "Clementa",
    "Coral Glow",
    "Dialogue",
    "Dune",
    "Editoria",
    "Elysia",
    "Finesse",
    "Flax",
    "Gamma",
    "Gamma Dark",
    "Gold Leaf",
    "Howlite",
    "Icebreaker",
    "Incandescent",
    "Indigo",
    "Kraft",
    "Lavender",
    "Marine",
    "Mercury",
    "Mystique",
    "Night Sky",
    "Nova",
    "Onyx",
    "Pearl",
    "Peach",
    "Pistachio",
    "Seafoam",
    "Sprout",
    "Vortex",
    "Wireframe",
)
_COLORS: Final = ("blue", "black", "white", "gray", "orange", "green", "purple", "gold", "pink", "teal")
_TONES: Final = ("modern", "professional", "playful", "elegant", "minimal", "bold", "warm", "technical")
_FOLDER_NAMES: Final = (
    "Marketing",
    "Sales",
    "Design",
    "Engineering",
    "Product",
    "Finance",
    "HR",
    "Legal",
    "Customer Success",
    "Investor Updates",
    "Board Decks",
    "Onboarding",
    "Research",
    "Partnerships",
    "Events",
    "Recruiting",
    "Quarterly Reviews",
    "Training",
    "Support",
    "Operations",
    "Strategy",
    "Brand",
    "Social Media",
    "Webinars",
    "Archive 2025",
)


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def default_themes() -> list[dict[str, Any]]:
    """Forty themes (38 standard, 2 custom), more than one default page of 20."""
    themes: list[dict[str, Any]] = []
    for index, name in enumerate(_THEME_NAMES):
        custom = index >= len(_THEME_NAMES) - 2
        themes.append(
            {
                "id": f"wt{index:04d}{_slug(name)[:6]}" if custom else _slug(name),
                "name": f"Acme {name}" if custom else name,
                "type": "custom" if custom else "standard",
                "colorKeywords": [_COLORS[index % len(_COLORS)], _COLORS[(index * 3 + 1) % len(_COLORS)]],
                "toneKeywords": [_TONES[index % len(_TONES)], _TONES[(index * 5 + 2) % len(_TONES)]],
            }
        )
    return themes


def default_folders() -> list[dict[str, Any]]:
    """Twenty-five folders, more than one default page of 20."""
    return [
        {"id": f"fold{index:04d}{_slug(name)[:8]}", "name": name} for index, name in enumerate(_FOLDER_NAMES)
    ]


class CursorError(ValueError):
    """The ``after`` cursor is not one this catalog issued."""


class Catalog:
    """An immutable, ordered list of items (themes or folders) with name search and cursors.

    Cursors are opaque base64url JSON (``{"id": <last item id>}``), like Gamma's.
    """

    def __init__(self, items: Sequence[Mapping[str, Any]]) -> None:
        self._items = [dict(item) for item in items]
        self._position = {str(item["id"]): i for i, item in enumerate(self._items)}

    @property
    def items(self) -> list[dict[str, Any]]:
        """All items, in order (copies)."""
        return [dict(item) for item in self._items]

    @staticmethod
    def encode_cursor(item_id: str) -> str:
        """Make the cursor pointing just after ``item_id``."""
        return base64.urlsafe_b64encode(json.dumps({"id": item_id}).encode()).decode().rstrip("=")

    def _decode_cursor(self, cursor: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            item_id = json.loads(raw)["id"]
            return self._position[str(item_id)]
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise CursorError(cursor) from exc

    def page(
        self, *, query: str | None, limit: int, after: str | None, item_type: str | None = None
    ) -> dict[str, Any]:
        """Return ``{"data": [...], "hasMore": bool, "nextCursor": str | None}``.

        Args:
            query: Case-insensitive substring filter on ``name``.
            limit: Page size.
            after: Cursor from a previous page's ``nextCursor``.
            item_type: Optional filter on the ``type`` field (themes only).
        """
        start = self._decode_cursor(after) + 1 if after else 0
        needle = query.lower() if query else None
        data: list[dict[str, Any]] = []
        has_more = False
        for item in self._items[start:]:
            if needle is not None and needle not in str(item["name"]).lower():
                continue
            if item_type is not None and item.get("type") != item_type:
                continue
            if len(data) == limit:
                has_more = True
                break
            data.append(dict(item))
        next_cursor = self.encode_cursor(str(data[-1]["id"])) if has_more and data else None
        return {"data": data, "hasMore": has_more, "nextCursor": next_cursor}
