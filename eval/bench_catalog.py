"""Bench section `catalog`: ingest throughput, query embedding, `similar` and `search` latency.

Ingest is timed on the course catalog (the demo catalog when the course file is absent) into the
bench's scratch database, and set beside the embedding model's own throughput on the very texts
the ingest embedded, in the same run, so the difference is what the ingest adds (parsing, SQL).
Latencies are p50/p95 over many different titles and queries, after warm-up calls.
"""

from __future__ import annotations

import time
from typing import Any

from eval.bench import BenchContext, Figure, latency, ms_samples

SECTION = "catalog"
ROUNDS = 3
"""Timed passes over each list of titles / queries."""

TARGET_INGEST_S = 15.0
TARGET_QUERY_EMBED_MS = 20.0
TARGET_SIMILAR_MS = 10.0

# Varied on purpose: names, titles, genres, moods, a question, a pasted plot.
QUERIES = (
    "movies with Tom Hanks",
    "films directed by Steven Spielberg",
    "Jennifer Coolidge",
    "a giant ape on an island",
    "space adventure with aliens",
    "a heist in a casino",
    "romantic comedy in New York",
    "animated film about toys that come alive",
    "World War II soldiers behind enemy lines",
    "a boxer fighting for a title",
    "dinosaurs in a theme park",
    "a hacker discovers reality is a simulation",
    "superhero origin story",
    "a haunted house horror",
    "time travel",
    "mafia family drama",
    "a shark attacks a beach town",
    "high school musical",
    "Finding Nemo",
    "The Godfather",
    "Harrison Ford",
    "Pixar",
    "zombies",
    "a robot left alone on Earth",
    "prison escape",
    "vampires and werewolves",
    "which film has a talking donkey and an ogre?",
    "wizards at a school of magic",
    "car chases and street racing",
    "a detective hunting a serial killer in the rain",
    "Leonardo DiCaprio on a sinking ship",
    "A young farm boy joins a rebellion against an evil galactic empire, rescues a princess, "
    "learns the ways of a mystical energy field from an old hermit and helps destroy a giant "
    "battle station that can annihilate whole planets.",
)


def _ms_samples(fn: Any, items: list[Any], rounds: int = ROUNDS, warmup: int = 3) -> list[float]:
    return ms_samples(fn, items, rounds=rounds, warmup=warmup)


def _latency(name: str, samples: list[float], target_ms: float | None = None) -> list[Figure]:
    return latency(SECTION, name, samples, target_ms)


def run(ctx: BenchContext) -> list[Figure]:
    from sqlalchemy import text

    from retrieval.database import make_engine
    from retrieval.embeddings import embed_in_batches, load_embedder
    from retrieval.ingest import ingest_demo, ingest_movies
    from retrieval.schema import create_schema
    from retrieval.search import PgCatalog

    figures: list[Figure] = []
    t0 = time.perf_counter()
    embedder = ctx.cache.get("embedder") or load_embedder()
    load_s = time.perf_counter() - t0
    ctx.cache["embedder"] = embedder
    embedder.embed_documents(["warm-up: the model's first call pays one-off costs"] * 8)

    engine = make_engine(ctx.db_url)
    create_schema(engine)
    ctx.cache["engine"] = engine
    label = "course catalog" if ctx.movies_path else "demo catalog"
    report = (
        ingest_movies(engine, ctx.movies_path, embedder) if ctx.movies_path
        else ingest_demo(engine, embedder)
    )
    films = report.inserted + report.updated + report.unchanged
    with engine.connect() as conn:
        texts = [r[0] for r in conn.execute(text("SELECT embedding_text FROM movies ORDER BY id"))]
        titles = [
            r[0] for r in conn.execute(text(
                "SELECT min(title) FROM movies GROUP BY lower(title) HAVING count(*) = 1 "
                "ORDER BY min(id)"
            ))
        ]
    t0 = time.perf_counter()
    embed_in_batches(embedder, texts)
    model_s = time.perf_counter() - t0

    figures += [
        Figure(section=SECTION, name="embedding model load", value=load_s, unit="s"),
        Figure(section=SECTION, name=f"ingest {label} ({films} films)", value=report.seconds, unit="s",
               target=f"<= {TARGET_INGEST_S:g} s" if ctx.movies_path else None,
               ok=(report.seconds <= TARGET_INGEST_S) if ctx.movies_path else None),
        Figure(section=SECTION, name="ingest throughput", value=films / report.seconds, unit="films/s"),
        Figure(section=SECTION, name="embedding model alone, same texts", value=len(texts) / model_s,
               unit="films/s"),
    ]

    queries = list(QUERIES)
    figures += _latency("query embedding", _ms_samples(embedder.embed_query, queries),
                        TARGET_QUERY_EMBED_MS)

    catalog = PgCatalog(engine, embedder)
    ctx.cache["catalog"] = catalog
    step = max(1, len(titles) // 40)
    sample_titles = titles[::step][:40]
    figures += _latency(f"similar, cosine ({len(sample_titles)} titles)",
                        _ms_samples(catalog.similar, sample_titles), TARGET_SIMILAR_MS)
    figures += _latency(
        f"similar, hamming ({len(sample_titles)} titles)",
        _ms_samples(lambda t: catalog.similar(t, metric="hamming"), sample_titles),
    )
    figures += _latency(f"search hybrid, embedding included ({len(queries)} queries)",
                        _ms_samples(catalog.search, queries))
    vectors = {q: embedder.embed_query(q) for q in queries}
    figures += _latency(
        "search hybrid, SQL only",
        _ms_samples(lambda q: catalog.search(q, vector=vectors[q]), queries),
    )
    figures += _latency(
        "search dense, SQL only",
        _ms_samples(lambda q: catalog.search(q, mode="dense", vector=vectors[q]), queries),
    )
    figures += _latency("search keyword", _ms_samples(lambda q: catalog.search(q, mode="keyword"), queries))
    return figures
