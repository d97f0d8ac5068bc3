"""Bench section `plan`: query plan -> SQL -> rows, on the course catalog and on full MovieLens.

Two paths are timed per catalog, both without embedding (a phrase in a plan is left unapplied):
the whole question -> rows (titles found in the question, `chatbot.understand.read_plan` against
the catalog's vocabulary, compile, run read-only), and a prepared plan in its JSON form -> rows
(`QueryPlan.model_validate`, compile, run: what an LLM's JSON plan costs). Both catalogs are
ingested into databases of their own with a hashing stand-in embedder (the figures depend on the
vectors' count and size, not their meaning), then VACUUM ANALYZEd as autovacuum would leave them.
The slowest question is named so a regression points somewhere.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench import BenchContext, Figure, latency, ms_samples

SECTION = "plan"
ROUNDS = 5
TARGET_P50_MS = 15.0

# (question, plan as JSON). "{spielberg}" in ids / anchors is filled at setup from the catalog.
PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("List every Steven Spielberg movie", {"intent": "list", "filters": {"directors": {"any_of": ["Steven Spielberg"]}}}),
    ("Which Hitchcock films are in the catalog?", {"intent": "list", "filters": {"directors": {"any_of": ["Alfred Hitchcock"]}}}),
    ("films with both Robert De Niro and Al Pacino",
     {"intent": "list", "filters": {"actors": {"all_of": ["Robert De Niro", "Al Pacino"]}}}),
    ("What is the oldest film in the catalog?", {"intent": "superlative", "sort": {"key": "year"}}),
    ("Which movie is the longest?", {"intent": "superlative", "sort": {"key": "duration_min", "desc": True}}),
    ("comedies shorter than 90 minutes",
     {"intent": "list", "filters": {"genres": {"all_of": ["Comedy"]}, "duration_min": {"max": 89}}}),
    ("Japanese-language films", {"intent": "list", "filters": {"languages": {"any_of": ["Japanese"]}}}),
    ("Italian movies", {"intent": "list", "filters": {"countries": {"any_of": ["Italy"]}}}),
    ("animated movies from 2005 or later",
     {"intent": "list", "filters": {"genres": {"all_of": ["Animation"]}, "year": {"min": 2005}}}),
    ("movies directed by Quentin Tarantino or Martin Scorsese",
     {"intent": "list", "filters": {"directors": {"any_of": ["Quentin Tarantino", "Martin Scorsese"]}}}),
    ("How many movies star Tom Hanks?", {"intent": "count", "filters": {"actors": {"all_of": ["Tom Hanks"]}}}),
    ("Tom Hanks movies longer than two hours",
     {"intent": "list", "filters": {"actors": {"all_of": ["Tom Hanks"]}, "duration_min": {"min": 121}}}),
    ("90s dramas", {"intent": "list", "filters": {"genres": {"all_of": ["Drama"]}, "year": {"min": 1990, "max": 1999}}}),
    ("the five best rated films with at least 50 ratings",
     {"intent": "list", "filters": {"num_ratings": {"min": 50}}, "sort": {"key": "avg_rating", "desc": True}, "limit": 5}),
    ("anything with Clint Eastwood", {"intent": "list", "filters": {"people": {"any_of": ["Clint Eastwood"]}}}),
    ("comedies before 1960 or horror after 2000", {"intent": "list", "filters": {"either": [
        {"genres": {"all_of": ["Comedy"]}, "year": {"max": 1959}},
        {"genres": {"all_of": ["Horror"]}, "year": {"min": 2000}}]}}),
    ("movies with 'godfather' in the title", {"intent": "list", "filters": {"title": "godfather"}}),
    ("westerns that are not comedies",
     {"intent": "list", "filters": {"genres": {"all_of": ["Western"], "none_of": ["Comedy"]}}}),
    ("how many films are there?", {"intent": "count"}),
    ("every drama", {"intent": "list", "filters": {"genres": {"all_of": ["Drama"]}}}),
    ("and which of those came out in the 80s?", {"intent": "list", "scope": "previous",
                                                  "filters": {"year": {"min": 1980, "max": 1989}}}),
    ("and which is the shortest?", {"intent": "superlative", "scope": "previous", "sort": {"key": "duration_min"}}),
    ("movies like Toy Story", {"intent": "similar", "anchors": ["{toy_story}"], "limit": 10}),
    ("who directed Heat?", {"intent": "fact", "anchors": ["{heat}"], "fields": ["director"]}),
)


class HashingEmbedder:
    """Deterministic unit vectors from the words of a text (a stand-in for the model: fast)."""

    def __init__(self, dim: int = 384):
        self.dim = dim

    def _one(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        for word in text.lower().split():
            h = hashlib.blake2b(word.encode(), digest_size=8).digest()
            v[int.from_bytes(h[:4], "little") % self.dim] += 1.0 if h[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v] if any(v) else [1.0 / math.sqrt(self.dim)] * self.dim

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]


def _new_database(server_url: str, prefix: str) -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, sep, query = server_url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}{sep}{query}"


def _fill(plans: list[tuple[str, dict[str, Any]]], ids: dict[str, int | None]) -> list[tuple[str, dict[str, Any]]]:
    """Plans with their "{title}" anchors resolved; plans whose titles are missing are dropped."""
    out = []
    for question, plan in plans:
        anchors = plan.get("anchors", [])
        resolved = [ids.get(a.strip("{}")) for a in anchors]
        if any(r is None for r in resolved):
            continue
        out.append((question, {**plan, "anchors": resolved} if anchors else plan))
    return out


def _catalog_figures(label: str, url: str, load: Callable[[Any, Any], object]) -> list[Figure]:
    from sqlalchemy import text

    from chatbot.understand import read_plan
    from retrieval.compile import compile_plan, load_vocabulary, run_plan
    from retrieval.database import make_engine
    from retrieval.plan import QueryPlan
    from retrieval.schema import create_schema
    from retrieval.search import PgCatalog

    engine = make_engine(url)
    try:
        create_schema(engine)
        t0 = time.perf_counter()
        load(engine, HashingEmbedder())
        ingest_s = time.perf_counter() - t0
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE movies"))  # the settled state autovacuum leaves
        with engine.connect() as conn:
            films = conn.execute(text("SELECT count(*) FROM movies")).scalar_one()
            ids = {
                key: conn.execute(text("SELECT min(id) FROM movies WHERE title = :t"), {"t": title}).scalar()
                for key, title in (("toy_story", "Toy Story"), ("heat", "Heat"))
            }
            t0 = time.perf_counter()
            vocabulary = load_vocabulary(conn)
            vocabulary_ms = (time.perf_counter() - t0) * 1000
        plans = _fill(list(PLANS), ids)
        previous = run_plan(engine, QueryPlan.model_validate(PLANS[0][1])).ids
        catalog = PgCatalog(engine, HashingEmbedder())
        follow_ups = {q for q, p in plans if p.get("scope") == "previous"}

        def ask(question: str) -> object:
            plan = read_plan(question, vocabulary, titles=catalog.find_titles(question),
                             has_previous=question in follow_ups)
            if plan.intent in ("aggregate", "chitchat"):
                return None  # not a plan's work (guarded LLM SQL, a reply)
            return run_plan(engine, plan, ids=previous if plan.scope == "previous" else None)

        def call(plan: dict[str, Any]) -> object:
            parsed = QueryPlan.model_validate(plan)
            return run_plan(engine, parsed, ids=previous if parsed.scope == "previous" else None)

        catalog.refresh()
        questions = [q for q, _ in plans]
        per_question = {q: statistics.median(_samples(ask, [q], rounds=3)) for q in questions}
        slowest = max(per_question, key=per_question.__getitem__)
        figures = _latency(
            f"question -> plan -> SQL -> rows, {label} ({films} films, {len(questions)} questions)",
            _samples(ask, questions), TARGET_P50_MS,
        )
        figures.append(Figure(section=SECTION, name=f"slowest question, {label}: {slowest!r}",
                              value=per_question[slowest], unit="ms"))
        figures += _latency(f"JSON plan -> SQL -> rows, {label}", _samples(call, [p for _, p in plans]), TARGET_P50_MS)
        figures += _latency(f"reading the question (parser), {label}", _samples(
            lambda q: read_plan(q, vocabulary, titles=catalog.find_titles(q), has_previous=q in follow_ups), questions))
        figures += _latency(f"compile only, {label}", _samples(
            lambda p: compile_plan(QueryPlan.model_validate(p), ids=previous), [p for _, p in plans]))
        values = len(vocabulary.directors | vocabulary.actors | vocabulary.writers) + len(vocabulary.genres)
        figures += [
            Figure(section=SECTION, name=f"vocabulary load, {label} ({values} names and genres)",
                   value=vocabulary_ms, unit="ms"),
            Figure(section=SECTION, name=f"ingest {label} with the stand-in embedder", value=ingest_s, unit="s"),
        ]
        return figures
    finally:
        engine.dispose()


def _samples(fn: Callable[[Any], object], items: list[Any], rounds: int = ROUNDS) -> list[float]:
    return ms_samples(fn, items, rounds=rounds, warmup=len(items))  # warm-up: prepared statements, caches


def _latency(name: str, samples: list[float], target_ms: float | None = None) -> list[Figure]:
    return latency(SECTION, name, samples, target_ms)


def run(ctx: BenchContext) -> list[Figure]:
    from retrieval.ingest import ingest_demo, ingest_movielens, ingest_movies

    course: Path | None = ctx.movies_path

    def load_course(engine: Any, embedder: Any) -> None:
        if course is not None:
            ingest_movies(engine, course, embedder)
        else:
            ingest_demo(engine, embedder)

    figures = _catalog_figures(
        "course catalog" if course else "demo catalog", _new_database(ctx.db_url, "plan_course"), load_course
    )
    if ctx.movielens_dir is not None:
        movielens = ctx.movielens_dir

        def load_full(engine: Any, embedder: Any) -> None:
            load_course(engine, embedder)
            ingest_movielens(engine, movielens, embedder)

        figures += _catalog_figures("course + MovieLens", _new_database(ctx.db_url, "plan_full"), load_full)
    return figures
