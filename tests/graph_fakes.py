"""Small fakes for the graph's dependencies (unit tests; no database, no model)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chatbot.llm import Completion
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

    def find_titles(self, text):
        found = [(m.id, m.title, m.year) for m in self.movies if re.search(rf"(?<!\w){re.escape(m.title)}(?!\w)", text, re.I)]
        return sorted(found, key=lambda t: -len(t[1]))


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
                 routes: list[dict[str, Any]] | None = None):
        self.answers = list(answers or [])
        self.drafts = list(drafts or [])
        self.routes = list(routes or [])
        """Replies to routing requests (a schema with a `route` property)."""
        self.up = up
        self.stream_calls: list[list[Any]] = []
        self.json_calls: list[list[Any]] = []

    async def available(self) -> bool:
        return self.up

    async def stream(self, messages, *, on_token=None, on_restart=None, titles=None):
        self.stream_calls.append(messages)
        text = self.answers.pop(0)
        if on_token:
            for word in text.split(" "):
                await on_token(word + " ")
        return Completion(text=text, model=FAKE_MODEL)

    async def complete_json(self, messages, *, schema=None):
        self.json_calls.append(messages)
        if schema and "route" in schema.get("properties", {}):
            data = self.routes.pop(0)
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
