"""The question as the reader works on it: folded text whose understood spans get blanked."""

from __future__ import annotations

import re
import unicodedata

from retrieval.text import fold

GAP = "\x00"
"""Stands for an understood (consumed) character."""


class Question:
    """`orig` as written (NFC); `view` the same length, folded, understood spans replaced by GAP."""

    def __init__(self, question: str) -> None:
        self.orig = re.sub(r"\s+", " ", unicodedata.normalize("NFC", question)).strip()
        low = "".join((fold(c) or c)[:1] for c in self.orig)
        self.view = low.replace("\u2019", "'").replace("\u2018", "'")
        self.low = self.view
        self.semantic_cued = False
        """A plot/mood word introduced the semantic phrase ("about ...")."""

    def consume(self, start: int, end: int) -> None:
        self.view = self.view[:start] + GAP * (end - start) + self.view[end:]

    def take(self, pattern: str | re.Pattern[str], *, across: bool = False) -> list[re.Match[str]]:
        """Every match of `pattern` over what is not understood yet, each consumed; `across`: a
        match may span understood words ("what is [Alien] about")."""
        out = [m for m in re.finditer(pattern, self.view) if m.end() > m.start() and (across or GAP not in m.group(0))]
        for m in out:
            self.consume(m.start(), m.end())
        return out

    def take_first(self, pattern: str | re.Pattern[str]) -> re.Match[str] | None:
        for m in re.finditer(pattern, self.view):
            if m.end() > m.start() and GAP not in m.group(0):
                self.consume(m.start(), m.end())
                return m
        return None

    def search(self, pattern: str | re.Pattern[str]) -> re.Match[str] | None:
        return re.search(pattern, self.view)

    def words_left(self) -> list[tuple[int, int, str]]:
        """(start, end, folded word) of each word not understood yet."""
        return [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[^\W_]+(?:[-'][^\W_]+)*", self.view)]
