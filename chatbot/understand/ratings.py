"""Ratings a person states in chat ("I loved Heat and Alien, hated Titanic", "rate Alien 5
stars"), read by rules: each sentiment cue rates the catalog titles that follow it up to the next
cue, titles resolved against the catalog by the same `find_titles` the plan reader uses.

Stars: loved / adored / favourite 5, liked / enjoyed 4, "it was ok" 3, disliked / didn't like 2,
hated / couldn't stand 1; an explicit "N stars" or "N/5" in the same stretch wins over the word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FindTitles = Callable[[str], Sequence[tuple[int, str, int | None]]]

_CUES: tuple[tuple[str, float | None], ...] = (
    (r"(?:really\s+|absolutely\s+|just\s+)?(?:loved?|adored?)", 5.0),
    (r"(?:my\s+)?favou?rites?\s+(?:is|are|was|were|include)", 5.0),
    (r"(?:really\s+)?(?:liked?|enjoyed?)", 4.0),
    (r"(?:thought|found)\b[^.,;]*?\b(?:ok|okay|fine|alright)", 3.0),
    (r"(?:disliked?|(?:did\s*n[o']?t|do\s*n[o']?t|didn't|don't)\s+(?:really\s+)?(?:like|enjoy))", 2.0),
    (r"(?:hated?|loathed?|detested?|could\s*n[o']?t\s+stand|can'?t\s+stand)", 1.0),
    (r"(?:rate[ds]?|rating|give|gave|giving|score[ds]?)", None),
)
"""(pattern, stars) of the words that state a rating; None: the stars are a number said nearby."""

_CUE = re.compile(
    r"\b(?:i\s+|i've\s+|we\s+|i'd\s+)?(?:" + "|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_CUES)) + r")\b",
    re.IGNORECASE,
)
_SUBJECT = re.compile(r"(?:^|[.,;!?]|\band\b|\bbut\b|\bthen\b)\s*(?:i|we)\s*(?:'ve|'d)?\s*$|^\s*$", re.IGNORECASE)
_NUMBER = re.compile(
    r"\b(?P<n>[0-5](?:\.5)?|one|two|three|four|five)\s*(?:stars?|/\s*5|out\s+of\s+(?:5|five)|★)",
    re.IGNORECASE,
)
_WORDS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0}


@dataclass(frozen=True)
class StatedRating:
    movie_id: int
    title: str
    year: int | None
    stars: float
    words: str
    """The stretch of the message the rating was read from."""


def read_ratings(text_: str, find_titles: FindTitles) -> list[StatedRating]:
    """The ratings `text_` states, one per film (a later statement about a film wins)."""
    cues = [m for m in _CUE.finditer(text_) if _is_statement(text_, m)]
    out: dict[int, StatedRating] = {}
    for i, cue in enumerate(cues):
        end = cues[i + 1].start() if i + 1 < len(cues) else len(text_)
        stretch = text_[cue.end():end]
        stars = _stars(cue, stretch)
        if stars is None:
            continue
        for movie_id, title, year in find_titles(stretch):
            out[movie_id] = StatedRating(movie_id=movie_id, title=title, year=year, stars=stars,
                                         words=(cue.group(0) + stretch).strip(" ,;."))
    return list(out.values())


def _is_statement(text_: str, cue: re.Match[str]) -> bool:
    """A cue speaks for the person when "I" precedes it or it opens a clause ("loved Heat,
    hated Titanic"; "rate Alien 5 stars"), not inside a request ("films like Heat")."""
    said = cue.group(0).lower()
    before = text_[:cue.start()]
    if re.search(r"\b(?:if|whether|when)\s*$", before, re.IGNORECASE):
        return False  # "... if I liked Heat": a condition, not a statement
    if said.startswith(("i ", "i've", "we ", "i'd")):
        return True
    return bool(_SUBJECT.search(before)) or bool(re.search(r"(?:^|[.,;!?]|\band\b|\bbut\b)\s*$", before))


def _stars(cue: re.Match[str], stretch: str) -> float | None:
    number = _NUMBER.search(stretch)
    if number is not None:
        n = number.group("n").lower()
        value = _WORDS.get(n) or float(n)
        return min(5.0, max(0.5, value))
    for i, (_, stars) in enumerate(_CUES):
        if cue.group(f"c{i}") is not None:
            return stars
    return None


def stars_text(stars: float) -> str:
    return f"{stars:g} star" + ("" if stars == 1 else "s")


def confirmation(recorded: Sequence[StatedRating]) -> str:
    """The sentence an answer opens with, naming exactly what was stored."""
    parts = [f"*{r.title}*" + (f" ({r.year})" if r.year else "") + f" {stars_text(r.stars)}" for r in recorded]
    return "Noted your ratings: " + ", ".join(parts) + ". I'll use them when you ask for recommendations."
