"""Check that every title an answer names is one of its rows. Pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FLAG = " [not in the retrieved rows]"

# Spans an answer uses to present a title: **Bold**, *italic*, "quoted", “curly”, and the head of a
# numbered/bulleted list line up to a "(year)".
_TITLE_SPANS = (
    re.compile(r"\*\*([^*\n]{2,80}?)\*\*"),
    re.compile(r"(?<![*\w])\*([^*\n]{2,80}?)\*(?![*\w])"),
    re.compile(r"[\"“]([^\"”\n]{2,80}?)[\"”]"),
    re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(?!\*)([^\n(—:]{2,80}?)\s*\((?:19|20)\d\d\)", re.M),
)


@dataclass(kw_only=True)
class CitationCheck:
    answer: str
    """The answer with names that are not rows flagged."""
    cited: list[dict[str, Any]] = field(default_factory=list)
    """Rows the answer names, in row order ({id, title, year})."""
    flagged: list[str] = field(default_factory=list)
    """Names presented as titles that are not among the rows."""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.casefold())).strip()


def _mentions(answer_norm: str, title: str) -> bool:
    t = _norm(title)
    return bool(t) and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", answer_norm) is not None


def check_citations(
    answer: str, rows: list[dict[str, Any]], *, catalog_titles: list[str] | None = None,
    allowed: list[str] | None = None,
) -> CitationCheck:
    """`catalog_titles`: catalog titles found in the answer text (any row of the catalog);
    `allowed`: catalog titles the question itself named (the anchor of "movies like X").

    A name is flagged when it is a catalog title that is not a row, or when the answer presents
    it as a title (bold, quotes, list head) and it matches no row.
    """
    answer_norm = _norm(answer)
    titled = [r for r in rows if r.get("title") and r.get("id") is not None]
    # Longest titles first, each match blanked out, so "Jaws 2" does not also cite "Jaws".
    named_ids = set()
    remaining = answer_norm
    for r in sorted(titled, key=lambda r: -len(_norm(r["title"]))):
        pattern = rf"(?<!\w){re.escape(_norm(r['title']))}(?!\w)"
        if _norm(r["title"]) and re.search(pattern, remaining):
            named_ids.add(r["id"])
            remaining = re.sub(pattern, " ", remaining)
    cited = [{"id": r["id"], "title": r["title"], "year": r.get("year")} for r in titled if r["id"] in named_ids]
    row_titles = {_norm(r["title"]) for r in titled}
    known = row_titles | {_norm(t) for t in allowed or []}

    def is_row(name: str) -> bool:
        # "Jaws (1975)" names the row Jaws; "Jaws 2" does not
        return _norm(re.sub(r"\s*\((?:19|20)\d\d\)\s*$", "", name)) in known

    flagged: list[str] = []
    # Very short catalog titles ("M", "Up") match initials and words in plain prose; they are
    # only judged when the answer presents them as titles (the span check below).
    for title in (t for t in catalog_titles or [] if len(_norm(t)) >= 3):
        # a catalog title inside a row's title ("Jaws" in "Jaws 2") is that row, not a new name
        inside_a_row = any(_mentions(t, title) for t in known)
        if _norm(title) not in known and not inside_a_row and title not in flagged:
            flagged.append(title)
    for span in _TITLE_SPANS:
        for m in span.finditer(answer):
            name = m.group(1).strip().rstrip(",.;:")
            seen = any(_norm(name) in _norm(f) or _norm(f) in _norm(name) for f in flagged)
            if _looks_like_title(name) and not is_row(name) and not seen:
                flagged.append(name)

    text = answer
    for name in flagged:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)(?:\*\*|\*|\"|”)?", lambda m: m.group(0) + FLAG, text, count=1)
    return CitationCheck(answer=text, cited=cited, flagged=flagged)


def _looks_like_title(name: str) -> bool:
    """Bold/quoted spans that are clearly not film names (labels, numbers, sentences) are skipped."""
    if not name or len(name) > 60 or name.endswith(":") or name[0].islower():
        return False
    if re.fullmatch(r"[\d\s.,/%-]+", name):
        return False
    words = name.split()
    return len(words) <= 9 and not name.lower().startswith(("note", "warning", "sql", "tip", "why"))
