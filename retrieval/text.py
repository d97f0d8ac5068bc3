"""Text normalisation shared by the whole project: the one place accents are folded."""

from __future__ import annotations

import unicodedata


def strip_accents(s: str) -> str:
    """The text with accents and other combining marks removed, case kept ("Amélie" -> "Amelie")."""
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(s: str) -> str:
    """Case- and accent-blind form for comparing people's words with catalog words."""
    return strip_accents(s).casefold()
