"""Small fakes for the graph's dependencies (unit tests; no database, no model)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chatbot.llm import Completion
from retrieval.plan import Filters, Names, QueryPlan, Range, Vocabulary
from retrieval.types import MovieHit, SearchFilters

MOVIES = [
    MovieHit(id=1, title="Finding Nemo", year=2003, score=0, genres=("Animation", "Family"), director="Andrew Stanton", duration_min=100),
    MovieHit(id=2, title="Shark Tale", year=2004, score=0, genres=("Animation", "Comedy"), director="Vicky Jenson", duration_min=90),
    MovieHit(id=3, title="Jaws", year=1975, score=0, genres=("Thriller",), director="Steven Spielberg", duration_min=124),
    MovieHit(id=4, title="Schindler's List", year=1993, score=0, genres=("Drama", "History"), director="Steven Spielberg", duration_min=195),
    MovieHit(id=5, title="Saving Private Ryan", year=1998, score=0, genres=("Drama", "War"), director="Steven Spielberg", duration_min=169),
    MovieHit(id=6, title="Ocean's Eleven", year=2001, score=0, genres=("Crime", "Thriller"), director="Steven Soderbergh", duration_min=116),
    MovieHit(id=7, title="Casino", year=1995, score=0, genres=("Crime", "Drama"), director="Martin Scorsese", duration_min=178),
]


@dataclass
class FakeCatalog:
    """Search returns MOVIES filtered by SearchFilters, in list order; records calls."""

    movies: list[MovieHit] = field(default_factory=lambda: list(MOVIES))
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _match(self, m: MovieHit, f: SearchFilters | None) -> bool:
        if f is None:
            return True
        return (
            (f.year_min is None or (m.year or 0) >= f.year_min)
            and (f.year_max is None or (m.year or 0) <= f.year_max)
            and all(g in m.genres for g in f.genres)
            and (f.director is None or f.director.lower() in (m.director or "").lower())
            and (not f.ids or m.id in f.ids)
        )

    def similar(self, title, *, year=None, metric="cosine", k=10, filters=None):
        self.calls.append(("similar", (title, year, metric, k)))
        return [m for m in self.movies if m.title != title and self._match(m, filters)][:k]

    def search(self, text, *, mode="hybrid", k=10, filters=None, vector=None):
        self.calls.append(("search", (text, mode, k, filters)))
        hits = [m for m in self.movies if self._match(m, filters)]
        if filters and filters.ids:
            hits.sort(key=lambda m: filters.ids.index(m.id))
        return hits[:k]

    def get(self, ids):
        return [m for i in ids for m in self.movies if m.id == i]

    def count(self):
        return len(self.movies)

    def person_roles(self, name):
        low = name.lower()
        return {
            "director": sum(low in (m.director or "").lower() for m in self.movies),
            "actor": sum(any(low in a.lower() for a in m.actors) for m in self.movies),
        }

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(
            directors=frozenset(m.director for m in self.movies if m.director),
            actors=frozenset(a for m in self.movies for a in m.actors),
            genres=frozenset(g for m in self.movies for g in m.genres),
            countries=frozenset(m.country for m in self.movies if m.country),
        )

    def run_plan(self, plan: QueryPlan, *, ids=None, vector=None, metric="cosine", cap=500, k=10):
        """The plan evaluated in Python over `movies` (list order stands in for distance)."""
        self.calls.append(("run_plan", (plan, ids, vector is not None, cap, k)))
        rows = [m for m in self.movies if _plan_match(m, plan.filters) and (ids is None or m.id in ids)]
        if plan.anchors and plan.intent in ("similar", "fact"):
            keep = (lambda m: m.id in plan.anchors) if plan.intent == "fact" else (lambda m: m.id not in plan.anchors)
            rows = [m for m in rows if keep(m)]
        ranked = plan.intent in ("similar", "search", "recommend")
        total = len(rows)
        if plan.sort:
            key, desc = plan.sort.key, plan.sort.desc
            rows = sorted((m for m in rows if getattr(m, key) is not None), key=lambda m: getattr(m, key), reverse=desc)
        limit = plan.limit or (1 if plan.intent == "superlative" else k if ranked else None)
        if limit is not None and len(rows) > limit:
            kept, rest = rows[:limit], rows[limit:]
            if plan.sort and plan.ties:  # rows tied with the last kept one stay
                cut = getattr(kept[-1], plan.sort.key)
                kept += [m for m in rest if getattr(m, plan.sort.key) == cut]
            rows = kept
        capped = len(rows) > cap
        rows = rows[:cap]
        return FakePlanResult(rows=[m.full() for m in rows], total=total, capped=capped, ranked=ranked,
                              readable=f"-- plan {plan.intent}")

    def find_titles(self, text):
        found = [(m.id, m.title, m.year) for m in self.movies if re.search(rf"(?<!\w){re.escape(m.title)}(?!\w)", text, re.I)]
        return sorted(found, key=lambda t: -len(t[1]))


def _names_match(values: list[str], n: Names) -> bool:
    low = {v.lower() for v in values}
    return (
        all(v.lower() in low for v in n.all_of)
        and (not n.any_of or any(v.lower() in low for v in n.any_of))
        and not any(v.lower() in low for v in n.none_of)
    )


def _in(r: Range, v: float | None) -> bool:
    if r.is_empty():
        return True
    return v is not None and (r.min is None or v >= r.min) and (r.max is None or v <= r.max)


def _plan_match(m: MovieHit, f: Filters) -> bool:
    directors = [d.strip() for d in (m.director or "").split(",") if d.strip()]
    return (
        _in(f.year, m.year) and _in(f.duration_min, m.duration_min) and _in(f.avg_rating, m.avg_rating)
        and _in(f.num_ratings, m.num_ratings)
        and _names_match(list(m.genres), f.genres) and _names_match(directors, f.directors)
        and _names_match(list(m.actors), f.actors)
        and _names_match([*directors, *m.actors], f.people)
        and _names_match([m.country] if m.country else [], f.countries)
        and (f.title is None or f.title.lower() in m.title.lower())
        and m.id not in f.exclude_ids
        and (not f.either or any(_plan_match(m, g) for g in f.either))
    )


@dataclass
class FakePlanResult:
    rows: list[dict[str, Any]]
    total: int
    capped: bool
    ranked: bool
    readable: str
    notes: tuple[str, ...] = ()


class FakeEmbedder:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.texts.append(text)
        return [0.0] * 384

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


FAKE_MODEL = "fake:1b"


class FakeChat:
    """Scripted replies: `answers` for stream(), `drafts` (SQL strings) for complete_json()."""

    def __init__(self, answers: list[str] | None = None, drafts: list[str] | None = None, up: bool = True,
                 plans: list[dict[str, Any]] | None = None):
        self.answers = list(answers or [])
        self.drafts = list(drafts or [])
        self.plans = list(plans or [])
        """Replies to plan-filling requests (the QueryPlan schema, with an `intent` property)."""
        self.up = up
        self.stream_calls: list[list[Any]] = []
        self.json_calls: list[list[Any]] = []

    async def available(self) -> bool:
        return self.up

    async def stream(self, messages, *, on_token=None, on_restart=None, titles=None, names=None):
        self.stream_calls.append(messages)
        text = self.answers.pop(0)
        if on_token:
            for word in text.split(" "):
                await on_token(word + " ")
        return Completion(text=text, model=FAKE_MODEL)

    async def complete_json(self, messages, *, schema=None):
        self.json_calls.append(messages)
        if schema and "intent" in schema.get("properties", {}):
            data = self.plans.pop(0)
            return Completion(text=json.dumps(data), model=FAKE_MODEL, data=data)
        sql = self.drafts.pop(0)
        return Completion(text=json.dumps({"sql": sql}), model=FAKE_MODEL, data={"sql": sql})


@dataclass
class FakeGuarded:
    sql: str
    phrases: dict[str, str] = field(default_factory=dict)

    @property
    def readable(self) -> str:
        return self.sql


class FakeGuard:
    """Rejects drafts containing 'DROP' or '@>'; `run` returns the scripted rows (or raises)."""

    def __init__(self, rows: list[dict[str, Any]] | Exception | None = None):
        self.rows = rows if rows is not None else []
        self.runs: list[tuple[str, dict[str, Any]]] = []

    def check(self, sql: str) -> FakeGuarded:
        from retrieval.sqlguard import UnsafeSQL

        if "DROP" in sql.upper():
            raise UnsafeSQL("Only SELECT statements are allowed.")
        if "@>" in sql:
            raise UnsafeSQL("The @> operator cannot be used on embeddings.")
        return FakeGuarded(sql=sql + " /*checked*/")

    def run(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.runs.append((sql, params))
        if isinstance(self.rows, Exception):
            raise self.rows
        return self.rows
