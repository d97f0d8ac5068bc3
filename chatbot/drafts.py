"""Is a drafted SQL statement about *this* question? The guard (retrieval.sqlguard) says whether a
draft is safe; this says whether it is on-question. A draft is rejected when it reproduces a
few-shot example written for another question, drops or contradicts a constraint the rules
already found (person, title, year range, genre, duration, country, language), mixes up columns
(a genre where a person belongs, `director ILIKE '%war%'`; years where minutes belong,
`duration_min BETWEEN 1980 AND 2015`; a country in `language`), or — as a repair — repeats the
SQL that was just rejected. Pure functions: the draft node calls `draft_problem` after the
guard's check; `plan_problem` holds an LLM-filled query plan to the same rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from chatbot.usability import words
from retrieval.plan import Filters, Names, Range

YEAR_SLACK = 1
"""`year > 1989` and `year >= 1990` are the same decade."""
DURATION_SLACK = 1


def normalize_sql(sql: str) -> str:
    """Whitespace, case and a trailing semicolon do not make two drafts different."""
    return " ".join(sql.strip().rstrip(";").split()).casefold()


REPEATED = "the repair repeats the rejected SQL"


def draft_problem(
    sql: str,
    *,
    question: str,
    filters: Filters | None = None,
    examples: Iterable[tuple[str, str]] = (),
    rejected: Iterable[str] = (),
) -> str | None:
    """Why `sql` does not answer `question` given what the rules found, or None when it may run.

    `examples` are the (question, SQL) pairs the prompt showed; `rejected` the drafts already
    refused this turn (a repair identical to one of them ends the repair).
    """
    norm = normalize_sql(sql)
    if any(norm == normalize_sql(r) for r in rejected):
        return REPEATED
    copied = next(
        (q for q, ex in examples if norm == normalize_sql(ex) and words(q) != words(question)), None
    )
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None  # the guard words parse errors
    facts = _Facts(tree)
    for check in (_people, _genres, _places_mixed, _numbers_mixed, _years, _durations, _places, _title):
        problem = check(filters or Filters(), facts)
        if problem:
            return f"{problem} (it copies the example for {copied!r})" if copied else problem
    if copied is not None and (filters is None or filters == Filters()):
        # an example that keeps every constraint the rules found may be the right answer
        return f"it copies the example for {copied!r}"
    return None


class _Facts:
    """What a statement says: string literals, literals compared with each column, and numeric
    bounds per column."""

    def __init__(self, tree: Any) -> None:
        self.literals = [_fold(s.this) for s in tree.find_all(exp.Literal) if s.is_string]
        self.by_column: dict[str, list[str]] = {}
        self.bounds: dict[str, list[tuple[float, float]]] = {}
        for node in tree.find_all(exp.Like, exp.ILike, exp.EQ, exp.NEQ, exp.Any):
            self._text_comparison(node)
        for node in tree.find_all(exp.Between, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ):
            self._bound(node)
        for node in tree.find_all(exp.Exists, exp.Unnest):
            self._unnest_source(node)

    def _note(self, column: str, value: str) -> None:
        self.by_column.setdefault(column, []).append(_fold(value))

    def _text_comparison(self, node: Any) -> None:
        sides = [node.args.get("this"), node.args.get("expression")]
        cols = [s for s in sides if isinstance(s, exp.Column)]
        anys = [s for s in sides if isinstance(s, exp.Any)]
        lits = [s for s in sides if isinstance(s, exp.Literal) and s.is_string]
        for any_ in anys:
            inner = any_.this
            if isinstance(inner, exp.Column):
                cols.append(inner)
        for col in cols:
            for lit in lits:
                self._note(col.name.lower(), lit.this)

    def _unnest_source(self, node: Any) -> None:
        # EXISTS (SELECT 1 FROM unnest(actors) a WHERE a ILIKE '%x%'): the literal belongs to actors
        for unnest in node.find_all(exp.Unnest):
            arrays = [e for e in unnest.expressions if isinstance(e, exp.Column)]
            scope = unnest.find_ancestor(exp.Select)
            if not arrays or scope is None:
                continue
            for like in scope.find_all(exp.Like, exp.ILike, exp.EQ):
                lit = like.args.get("expression")
                if isinstance(lit, exp.Literal) and lit.is_string:
                    self._note(arrays[0].name.lower(), lit.this)

    def _bound(self, node: Any) -> None:
        col = node.args.get("this")
        if not isinstance(col, exp.Column):
            return
        name = col.name.lower()
        if isinstance(node, exp.Between):
            lo, hi = _number(node.args.get("low")), _number(node.args.get("high"))
            if lo is not None and hi is not None:
                self.bounds.setdefault(name, []).append((lo, hi))
            return
        value = _number(node.args.get("expression"))
        if value is None:
            return
        span: tuple[float, float] = {  # type: ignore[index]
            exp.GT: (value, math.inf), exp.GTE: (value, math.inf), exp.LT: (-math.inf, value),
            exp.LTE: (-math.inf, value), exp.EQ: (value, value),
        }[type(node)]
        self.bounds.setdefault(name, []).append(span)

    def range_of(self, column: str) -> tuple[float, float] | None:
        spans = self.bounds.get(column)
        if not spans:
            return None
        return max(lo for lo, _ in spans), min(hi for _, hi in spans)


def _fold(text: str) -> str:
    return " ".join(words(text.replace("%", " ")))


def _number(node: Any) -> float | None:
    numeric = isinstance(node, exp.Literal) and not node.is_string
    return float(node.this) if numeric and re.fullmatch(r"-?\d+(?:\.\d+)?", node.this) else None


def _names(names: Names) -> list[str]:
    return [*names.all_of, *names.any_of]


def _mentions(name: str, values: Sequence[str]) -> bool:
    """Some literal names this person: the full name, or its last word (`'%spielberg%'`)."""
    parts = words(name)
    if not parts:
        return True
    full, last = " ".join(parts), parts[-1]
    return any(full in v or v in full and last in v.split() for v in values if v)


def _people(f: Filters, facts: _Facts) -> str | None:
    for column, names in (("director", f.directors), ("actors", f.actors), ("writers", f.writers)):
        for name in _names(names):
            if not _mentions(name, facts.literals):
                return f"it drops the {column.rstrip('s')} {name}"
            placed = facts.by_column.get(column, [])
            if placed and not any(_mentions(name, [v]) for v in placed):
                return f"it matches {column} against {placed[0]!r} instead of {name}"
            if not any(_mentions(name, [v]) for v in placed):
                # the name is there, but compared with another person column ("director ILIKE
                # '%tom hanks%'" for an actor)
                elsewhere = next((c for c in facts.by_column if c != column
                                  and any(_mentions(name, [v]) for v in facts.by_column[c])), None)
                if elsewhere:
                    return f"it looks for the {column.rstrip('s')} {name} in {elsewhere}"
    for name in _names(f.people):
        if not _mentions(name, facts.literals):
            return f"it drops {name}"
    genres = {_fold(g) for g in _names(f.genres)}
    for column in ("director", "actors", "writers"):
        for value in facts.by_column.get(column, []):
            if value in genres:
                return f"it matches the genre {value!r} against {column}"
    return None


# --- an LLM-filled query plan ---------------------------------------------------------------


def plan_problem(llm: Filters, rules: Filters) -> str | None:
    """Why an LLM's filters do not keep what the rules found (every person in the role the rules
    gave, genre, title, country, language, year and duration range), or None when they do.
    An LLM fills a plan when the rules are unsure; it may add to their reading, not undo it."""
    roles = (("director", rules.directors, llm.directors), ("actor", rules.actors, llm.actors),
             ("writer", rules.writers, llm.writers))
    anyone = {" ".join(words(n)) for n in (*_names(llm.directors), *_names(llm.actors), *_names(llm.writers),
                                          *_names(llm.people))}
    for label, want, got in roles:
        held = {" ".join(words(n)) for n in _names(got)}
        for name in want.all_of:
            key = " ".join(words(name))
            if key in held:
                continue
            return f"it looks for the {label} {name} in another role" if key in anyone else f"it drops the {label} {name}"
    for name in rules.people.all_of:
        if " ".join(words(name)) not in anyone:
            return f"it drops {name}"
    for label, want, got in (("genre", rules.genres, llm.genres), ("country", rules.countries, llm.countries),
                             ("language", rules.languages, llm.languages)):
        held = {_fold(v) for v in (*got.all_of, *got.any_of)}
        for value in want.all_of:
            if _fold(value) not in held:
                return f"it drops the {label} {value}"
    if rules.title and (llm.title is None or _fold(rules.title) not in _fold(llm.title)):
        return f"it drops the title {rules.title!r}"
    for label, need, have, slack in (("year", rules.year, llm.year, YEAR_SLACK),
                                     ("duration", rules.duration_min, llm.duration_min, DURATION_SLACK)):
        if need.is_empty():
            continue
        if have.is_empty():
            return f"it drops the {label} constraint"
        need_span = (_or(need.min, -math.inf), _or(need.max, math.inf))
        have_span = (_or(have.min, -math.inf), _or(have.max, math.inf))
        if any(abs(_clip(w) - _clip(h)) > slack for w, h in zip(need_span, have_span, strict=True)):
            return f"its {label} range {_show(*have_span)} contradicts {_show(*need_span)}"
    return None


def _or(v: float | None, default: float) -> float:
    return default if v is None else v


def _genres(f: Filters, facts: _Facts) -> str | None:
    for genre in f.genres.all_of:
        if _fold(genre) not in facts.literals and not any(_fold(genre) in v for v in facts.literals):
            return f"it drops the genre {genre}"
    return None


def _range_problem(label: str, column: str, want: Range, facts: _Facts, slack: float) -> str | None:
    if want.min is None and want.max is None:
        return None
    got = facts.range_of(column)
    if got is None:
        return f"it drops the {label} constraint"
    lo, hi = got
    want_lo = -math.inf if want.min is None else want.min
    want_hi = math.inf if want.max is None else want.max
    if abs(_clip(lo) - _clip(want_lo)) > slack or abs(_clip(hi) - _clip(want_hi)) > slack:
        return f"its {label} range {_show(lo, hi)} contradicts {_show(want_lo, want_hi)}"
    return None


def _clip(v: float) -> float:
    return max(min(v, 1e9), -1e9)


def _show(lo: float, hi: float) -> str:
    def one(v: float) -> str:
        return "…" if math.isinf(v) else f"{v:g}"

    return f"{one(lo)}–{one(hi)}"


COLUMN_SPANS: dict[str, tuple[str, float, float]] = {
    "year": ("a year", 1800, 2200),
    "duration_min": ("a running time in minutes", 1, 1000),
    "avg_rating": ("a rating", 0, 5),
}
"""What a number compared with each numeric column can mean. A bound outside its column's span
is a column mix-up (`duration_min BETWEEN 1980 AND 2015`: years where minutes belong)."""


def _numbers_mixed(f: Filters, facts: _Facts) -> str | None:
    for column, (_, lo, hi) in COLUMN_SPANS.items():
        for v in sorted({x for span in facts.bounds.get(column, []) for x in span if not math.isinf(x)}):
            if lo <= v <= hi:
                continue
            meant = next((what for c, (what, a, b) in COLUMN_SPANS.items() if c != column and a <= v <= b), None)
            return f"it compares {column} with {v:g}" + (f", which reads as {meant}" if meant else "")
    return None


def _places_mixed(f: Filters, facts: _Facts) -> str | None:
    """A country, language or genre the rules found, compared with another column only."""
    found = (("country", "country", f.countries), ("language", "language", f.languages), ("genre", "genres", f.genres))
    for label, column, names in found:
        for value in _names(names):
            v = _fold(value)
            if any(v in x for x in facts.by_column.get(column, [])):
                continue
            elsewhere = next((c for c, xs in facts.by_column.items()
                              if c not in (column, "title", "summary") and any(v == x for x in xs)), None)
            if elsewhere:
                return f"it looks for the {label} {value} in {elsewhere}"
    return None


def _years(f: Filters, facts: _Facts) -> str | None:
    return _range_problem("year", "year", f.year, facts, YEAR_SLACK)


def _durations(f: Filters, facts: _Facts) -> str | None:
    return _range_problem("duration", "duration_min", f.duration_min, facts, DURATION_SLACK)


def _places(f: Filters, facts: _Facts) -> str | None:
    for label, names in (("country", f.countries), ("language", f.languages)):
        for value in names.all_of:
            if not any(_fold(value) in v for v in facts.literals):
                return f"it drops the {label} {value}"
    return None


def _title(f: Filters, facts: _Facts) -> str | None:
    if f.title and not any(_fold(f.title) in v or v and v in _fold(f.title) for v in facts.literals):
        return f"it drops the title {f.title!r}"
    return None

