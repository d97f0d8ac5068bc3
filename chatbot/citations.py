"""Check that every title an answer names is one of its rows. Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
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
_YEAR_AFTER = re.compile(r"\s*\((?:18|19|20)\d\d\)")
"""A "(1999)" after a name presents it as a film (also in running prose)."""
_SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "de", "la", "le"}


@dataclass(kw_only=True)
class CitationCheck:
    answer: str
    """The answer with names that are not rows flagged."""
    cited: list[dict[str, Any]] = field(default_factory=list)
    """Rows the answer names, in row order ({id, title, year})."""
    flagged: list[str] = field(default_factory=list)
    """Names presented as titles that are not among the rows."""


@dataclass(frozen=True, kw_only=True)
class KnownNames:
    """What a citation check knows besides the rows; the usability gate and the graph's
    check_citations node judge with the same one."""

    allowed: tuple[str, ...] = ()
    """Catalog titles the question itself named (the anchor of "movies like X")."""
    not_films: frozenset[str] = frozenset()
    """Names the catalog knows as something else: genres, people, countries, languages."""
    titles_in: Callable[[str], Sequence[str]] | None = field(default=None, compare=False)
    """Catalog titles a text names, any row of the catalog (the catalog's find_titles); None:
    the usability gate judges only the answer's own presentation (bold, quotes, list heads)."""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.casefold())).strip()


def _bare(norm: str) -> str:
    """A normalised title without its leading article ("the incredibles" -> "incredibles")."""
    return re.sub(r"^(?:the|a|an) ", "", norm)


def _mentions(answer_norm: str, title: str) -> bool:
    t = _norm(title)
    return bool(t) and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", answer_norm) is not None


def _row_key(row: dict[str, Any]) -> Any:
    """Rows are matched by id, or by title and year when a SQL row has no id."""
    return row["id"] if row.get("id") is not None else (_norm(row["title"]), row.get("year"))


def _prose_title(before: str, known: set[str]) -> str | None:
    """The name a "(year)" follows in running prose, or None when it is a known title.

    A known title ending the text is that title ("Gone with the Wind (1939)"); otherwise the run
    of capitalised words before the year (small words allowed inside) is the name presented.
    """
    tail = _norm(before[-120:])
    if any(tail == t or tail.endswith(" " + t) for t in known if t):
        return None
    words = re.findall(r"[\w'’:&.!?-]+", before[-120:].split("\n")[-1])
    run: list[str] = []
    for word in reversed(words):
        bare = word.strip(".:!?")
        if bare[:1].isupper() or bare[:1].isdigit() or (bare.lower() in _SMALL_WORDS and run):
            run.insert(0, word)
        else:
            break
    while run and run[0].lower() in _SMALL_WORDS:
        run.pop(0)
    name = " ".join(run).strip(" ,.;:")
    return name or None


def check_citations(
    answer: str, rows: list[dict[str, Any]], *, catalog_titles: list[str] | None = None,
    allowed: list[str] | None = None, not_films: Iterable[str] = (),
) -> CitationCheck:
    """`catalog_titles`: catalog titles found in the answer text (any row of the catalog);
    `allowed`: catalog titles the question itself named (the anchor of "movies like X");
    `not_films`: names the catalog knows as something else (genres, people, countries,
    languages), which bold or quotes do not make a film.

    A name is flagged when it is a catalog title that is not a row, or when the answer presents
    it as a film (bold, quotes, a list head, or followed by a year in parentheses) and it matches
    no row — whether or not the catalog has it. A title among the rows is never flagged.
    """
    answer_norm = _norm(answer)
    titled = [r for r in rows if isinstance(r.get("title"), str) and r["title"].strip()]
    # Longest titles first, each match blanked out, so "Jaws 2" does not also cite "Jaws".
    named_ids = set()
    remaining = answer_norm
    for r in sorted(titled, key=lambda r: -len(_norm(r["title"]))):
        pattern = rf"(?<!\w){re.escape(_norm(r['title']))}(?!\w)"
        if _norm(r["title"]) and re.search(pattern, remaining):
            named_ids.add(_row_key(r))
            remaining = re.sub(pattern, " ", remaining)
    cited = [
        {"id": r["id"], "title": r["title"], "year": r.get("year")}
        for r in titled if r.get("id") is not None and _row_key(r) in named_ids
    ]
    row_titles = {_norm(r["title"]) for r in titled}
    known = row_titles | {_norm(t) for t in allowed or []}
    others = {_norm(n) for n in not_films} - known

    bare_known = {_bare(t) for t in known}

    def is_row(name: str) -> bool:
        # "Jaws (1975)" names the row Jaws; "Jaws 2" does not; "Incredibles" names The Incredibles
        plain = _norm(re.sub(r"\s*\((?:19|20)\d\d\)\s*$", "", name))
        return plain in known or _bare(plain) in bare_known

    flagged: list[str] = []
    # Very short catalog titles ("M", "Up") match initials and words in plain prose; they are
    # only judged when the answer presents them as titles (the span check below).
    for title in (t for t in catalog_titles or [] if len(_norm(t)) >= 3):
        # a catalog title inside a row's title ("Jaws" in "Jaws 2") is that row, not a new name
        inside_a_row = any(_mentions(t, title) for t in known)
        if _norm(title) not in known and not inside_a_row and title not in flagged \
                and _presented_as_title(answer, title, others):
            flagged.append(title)
    def seen(name: str) -> bool:
        return any(_norm(name) in _norm(f) or _norm(f) in _norm(name) for f in flagged)

    for span in _TITLE_SPANS:
        for m in span.finditer(answer):
            raw = m.group(1).strip()
            if raw.endswith(":"):
                continue  # **Best match:**, **Why:** a label, not a film
            name = raw.rstrip(",.;")
            with_year = _YEAR_AFTER.match(answer, m.end()) is not None
            if _norm(name) in others and not with_year:
                continue  # **Action**, **Robin Williams**: a genre or a person, not a film
            if _looks_like_title(name) and not is_row(name) and not seen(name):
                flagged.append(name)
    for m in _YEAR_AFTER.finditer(answer):
        name = _prose_title(answer[: m.start()], known)
        if name and _looks_like_title(name) and not is_row(name) and not seen(name) and _norm(name) not in others:
            flagged.append(name)

    text = answer
    for name in flagged:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)(?:\*\*|\*|\"|”)?", lambda m: m.group(0) + FLAG, text, count=1)
    return CitationCheck(answer=text, cited=cited, flagged=flagged)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_SENTENCE_START = re.compile(r"(?:^|[.!?]\s|\n)\s*[\"“'(]?$")
_LIST_HEAD = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*•])\s+$")


def _presented_as_title(answer: str, title: str, not_films: set[str]) -> bool:
    """Whether a catalog title found in the answer's words is written as a title there: its
    words capitalised as a name is ("the alien creature" is not the film Alien), not inside the
    name of a person, genre or place the catalog knows ("Paula Patton" is not the film Patton),
    and — for a one-word title — not merely the first word of a sentence ("Gravity pulls…"),
    unless a list head or a "(year)" presents it."""
    text, name = _strip_accents(answer), _strip_accents(title)
    words = re.findall(r"[^\W_]+", name)
    if not words:
        return False
    variants = [words]
    if len(words) > 1 and words[0].casefold() in {"the", "a", "an"}:
        variants.append(words[1:])  # "Godfather" for The Godfather
    key = _norm(title)
    around = [n for n in not_films if key in n and n != key and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", n)]
    for ws in variants:
        pattern = re.compile(r"(?<![^\W_])" + r"[\W_]+".join(re.escape(w) for w in ws) + r"(?![^\W_])", re.I)
        for m in pattern.finditer(text):
            found = re.findall(r"[^\W_]+", m.group(0))
            heads = [w for i, w in enumerate(found) if i == 0 or (w.casefold() not in _SMALL_WORDS and len(w) > 1)]
            if not all(w[:1].isupper() or w[:1].isdigit() for w in heads):
                continue
            if any(_inside_name(text, m.start(), m.end(), n) for n in around):
                continue
            before, year_after = text[: m.start()], _YEAR_AFTER.match(text, m.end()) is not None
            one_word = len(found) == 1
            if one_word and _SENTENCE_START.search(before) and not _LIST_HEAD.search(before) and not year_after:
                continue
            return True
    return False


def _inside_name(text: str, start: int, end: int, name_norm: str) -> bool:
    """Whether text[start:end] lies inside an occurrence of the (normalised) name."""
    words = name_norm.split()
    pattern = re.compile(r"(?<![^\W_])" + r"[\W_]+".join(re.escape(w) for w in words) + r"(?![^\W_])", re.I)
    return any(m.start() <= start and end <= m.end() for m in pattern.finditer(text))


def _looks_like_title(name: str) -> bool:
    """Bold/quoted spans that are clearly not film names (labels, numbers, sentences) are skipped."""
    if not name or len(name) > 60 or name.endswith(":") or name[0].islower():
        return False
    if re.fullmatch(r"[\d\s.,/%-]+", name):
        return False
    words = name.split()
    return len(words) <= 9 and not name.lower().startswith(("note", "warning", "sql", "tip", "why"))
