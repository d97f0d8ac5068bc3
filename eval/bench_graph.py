"""Bench section `graph`: the graph's own overhead, without LLM time.

Every node runs for real (rule routing, query embedding, retrieval, SQL guard check and read-only
run, answer prompt build, citation check, Postgres checkpoint writes) while the chat model is an
instant stand-in: it returns a prepared SQL draft for structured questions and a fixed sentence
for answers, so the figures are what the graph adds on top of whatever the LLM takes.
"""

from __future__ import annotations

import asyncio
import time

from chatbot.llm import Completion
from eval.bench import BenchContext, Figure, percentiles

SECTION = "graph"
ROUNDS = 3
TARGET_P50_MS = 60.0
TARGET_P95_MS = 150.0

# (question, SQL draft the stand-in model returns for it, or None)
QUESTIONS: tuple[tuple[str, str | None], ...] = (
    ("movies like Finding Nemo", None),
    ("films similar to The Matrix", None),
    ("a shark terrorizes a beach town", None),
    ("a heist in a casino", None),
    ("toys come to life when nobody is watching", None),
    ("a detective hunting a serial killer in the rain", None),
    ("movies with Tom Hanks", None),
    ("recommend something, I liked Heat", None),
    ("90s dramas directed by Spielberg",
     "SELECT id, title, year FROM movies WHERE director ILIKE '%spielberg%' AND year BETWEEN 1990 "
     "AND 1999 AND 'Drama' = ANY(genres) ORDER BY year LIMIT 50"),
    ("something about a heist in a casino, sorted by year",
     "SELECT id, title, year FROM (SELECT id, title, year FROM movies ORDER BY embedding <=> "
     "embed('a heist in a casino') LIMIT 10) AS hits ORDER BY year LIMIT 10"),
    ("the five longest films with Tom Hanks",
     "SELECT id, title, year, duration_min FROM movies WHERE EXISTS (SELECT 1 FROM unnest(actors) "
     "AS a WHERE a ILIKE '%tom hanks%') ORDER BY duration_min DESC NULLS LAST LIMIT 5"),
    ("comedies from the 80s", "SELECT id, title, year FROM movies WHERE 'Comedy' = ANY(genres) "
     "AND year BETWEEN 1980 AND 1989 ORDER BY year LIMIT 50"),
)
ANSWER = "Here is what your catalog has."


class InstantChat:
    """A chat model that answers at once (the `ChatModel` Protocol), so no LLM time is counted."""

    def __init__(self) -> None:
        self.drafts = {q.lower(): sql for q, sql in QUESTIONS if sql}

    async def available(self) -> bool:
        return True

    async def stream(self, messages, *, on_token=None, on_restart=None, titles=None, names=None):  # type: ignore[no-untyped-def]
        if on_token:
            await on_token(ANSWER)
        return Completion(text=ANSWER, model="instant")

    async def complete_json(self, messages, *, schema=None):  # type: ignore[no-untyped-def]
        sql = self.drafts.get(str(messages[-1].content).lower(), "SELECT id, title FROM movies LIMIT 5")
        return Completion(text=sql, model="instant", data={"sql": sql})


def run(ctx: BenchContext) -> list[Figure]:
    return asyncio.run(_run(ctx))


async def _run(ctx: BenchContext) -> list[Figure]:
    from chatbot.api import Chatbot
    from chatbot.deps import Deps
    from chatbot.wiring import GuardAdapter, open_checkpointer
    from retrieval.database import make_engine
    from retrieval.embeddings import load_embedder
    from retrieval.ingest import ingest_demo
    from retrieval.recommend import recommend
    from retrieval.schema import create_schema
    from retrieval.search import PgCatalog

    embedder = ctx.cache.get("embedder") or load_embedder()
    engine = ctx.cache.get("engine")
    if engine is None:  # run on its own: load the demo catalog
        engine = make_engine(ctx.db_url)
        create_schema(engine)
        ingest_demo(engine, embedder)
    deps = Deps(
        catalog=ctx.cache.get("catalog") or PgCatalog(engine, embedder), embedder=embedder,
        chat=InstantChat(), sql=GuardAdapter(ctx.db_url, row_cap=50, timeout_ms=2000),
        recommend=lambda ids, k: recommend(engine, ids, k=k),
    )
    checkpointer, close = await open_checkpointer(ctx.db_url)
    bot = Chatbot(deps, checkpointer=checkpointer, closers=[close])
    samples: list[float] = []
    sql_samples: list[float] = []
    try:
        for q, _ in QUESTIONS:  # warm-up
            await bot.aask(q)
        for _ in range(ROUNDS):
            for q, sql in QUESTIONS:
                t0 = time.perf_counter()
                answer = await bot.aask(q)
                ms = (time.perf_counter() - t0) * 1000
                samples.append(ms)
                if sql and answer.sql:
                    sql_samples.append(ms)
    finally:
        await bot.aclose()
    p50, p95 = percentiles(samples)
    figures = [
        Figure(section=SECTION, name="graph overhead p50 (no LLM time)", value=p50, unit="ms",
               target=f"<= {TARGET_P50_MS:.0f} ms", ok=p50 <= TARGET_P50_MS),
        Figure(section=SECTION, name="graph overhead p95 (no LLM time)", value=p95, unit="ms",
               target=f"<= {TARGET_P95_MS:.0f} ms", ok=p95 <= TARGET_P95_MS),
    ]
    if sql_samples:
        s50, s95 = percentiles(sql_samples)
        figures += [
            Figure(section=SECTION, name="SQL-path questions p50", value=s50, unit="ms"),
            Figure(section=SECTION, name="SQL-path questions p95", value=s95, unit="ms"),
        ]
    return figures
