"""Bench section `profiles`: per embedding profile, embedding throughput, the time to embed the
catalog for it, `similar` p50 and the size of its vectors + indexes. Profiles whose model is not
installed (mpnet) are left out and say so."""

from __future__ import annotations

import time
from typing import Any

from eval.bench import BenchContext, Figure, percentiles

SECTION = "profiles"
SIMILAR_TITLES = 20
THROUGHPUT_TEXTS = 256
"""Texts timed for throughput (the whole catalog is embedded once more by `embed_profile`)."""


def run(ctx: BenchContext) -> list[Figure]:
    from sqlalchemy import text

    from chatbot.settings import Settings
    from retrieval.database import make_engine
    from retrieval.embeddings import load_embedder
    from retrieval.ingest import ingest_demo, ingest_movies
    from retrieval.profiles import PROFILES, installed, load_profile_embedder
    from retrieval.profiles_store import embed_profile, similar_to_id
    from retrieval.schema import create_schema

    engine = ctx.cache.get("engine")
    if engine is None:
        engine = make_engine(ctx.db_url)
        create_schema(engine)
        default = ctx.cache.setdefault("embedder", load_embedder())
        if ctx.movies_path:
            ingest_movies(engine, ctx.movies_path, default)
        else:
            ingest_demo(engine, default)
        ctx.cache["engine"] = engine
    home = Settings.from_env().home  # where `profiles install mpnet` put the model
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM movies ORDER BY id LIMIT :n"), {"n": SIMILAR_TITLES})]
    figures: list[Figure] = []
    for profile in PROFILES.values():
        if not installed(profile, home):
            figures.append(Figure(section=SECTION, name=f"{profile.name}: not installed", value=0, unit="-"))
            continue
        embedder: Any = ctx.cache["embedder"] if profile.model == "minilm" and "embedder" in ctx.cache \
            else load_profile_embedder(profile, home)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, title, year, country, summary, genres, director, actors "
                                     "FROM movies ORDER BY id")).mappings().all()
        texts = [profile.text(dict(r)) for r in rows][:THROUGHPUT_TEXTS]
        t0 = time.perf_counter()
        embedder.embed_documents(texts)
        rate = len(texts) / (time.perf_counter() - t0)
        figures.append(Figure(section=SECTION, name=f"{profile.name}: embedding throughput", value=rate, unit="texts/s"))
        if not profile.default:
            report = embed_profile(engine, profile, embedder)
            figures.append(Figure(section=SECTION, name=f"{profile.name}: embed catalog ({report.total} films)",
                                  value=report.seconds, unit="s"))
        samples = []
        for anchor in ids:
            t0 = time.perf_counter()
            similar_to_id(engine, profile, anchor, k=10)
            samples.append((time.perf_counter() - t0) * 1000)
        figures.append(Figure(section=SECTION, name=f"{profile.name}: similar p50", value=percentiles(samples)[0], unit="ms"))
        with engine.connect() as conn:
            if profile.default:
                size = conn.execute(text("SELECT pg_relation_size('movies_embedding_hnsw')")).scalar_one()
            else:
                size = conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": profile.table}).scalar_one()
        figures.append(Figure(section=SECTION, name=f"{profile.name}: vectors + indexes"
                              + (" (HNSW only)" if profile.default else ""), value=size / 2**20, unit="MiB"))
    return figures
