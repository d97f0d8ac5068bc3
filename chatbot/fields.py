"""Row values cut to a length before a model or a person sees them. Rows come from the catalog
(whatever an ingested file held) and from drafted SQL (whatever a query computed, already capped
in bytes by the runner): one cut here keeps a long plot, a huge cast or a computed string from
filling the answer prompt, the movie cards or the rows table. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ELLIPSIS = "…"
TEXT_CHARS = 200
"""Any text value not named in FIELD_CHARS."""
FIELD_CHARS = {"summary": 400, "title": 160, "poster_url": 500}
"""Longer (or shorter) limits for the fields that need them."""
LIST_ITEMS = 12
"""A list value (actors, genres, writers, an array a query built) keeps its first items."""
ITEM_CHARS = 80
"""Each text item of a list value."""


def cut_text(text: str, limit: int) -> str:
    """`text` whole when it fits in `limit` characters, else its start and an ellipsis (limit in all)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def cut_value(key: str, value: Any) -> Any:
    """One row value cut for showing: text by its field's limit, lists to their first items
    (each cut), mappings and other objects as their cut text; numbers, booleans and None unchanged."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return cut_text(value, FIELD_CHARS.get(key, TEXT_CHARS))
    if isinstance(value, (list, tuple)):
        kept = [v if v is None or isinstance(v, (bool, int, float)) else cut_text(str(v), ITEM_CHARS)
                for v in value[:LIST_ITEMS]]
        return kept if isinstance(value, list) else tuple(kept)
    return cut_text(str(value), FIELD_CHARS.get(key, TEXT_CHARS))


def cut_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with every value cut for showing (cut_value); the keys are unchanged."""
    return {k: cut_value(k, v) for k, v in row.items()}
