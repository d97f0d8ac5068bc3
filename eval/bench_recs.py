"""`movie-rag bench --section recs`: nearest users and recommendations.

On ml-latest-small (610 users; films embedded by a cheap deterministic stand-in, since these are
speed figures and the model's vectors do not change the work the queries do), and on a synthetic
set of `SYNTHETIC_USERS` users drawn like MovieLens (each takes the rating count of a random real
user, and that many draws from the real ratings, so films come by popularity with real stars),
searched through the partial HNSW index and by exact scan.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import text

from eval.bench import BenchContext, Figure, latency, ms_samples
from retrieval.indexing import vector_plan
from retrieval.schema import HNSW_SPARSE_MAX_NNZ

SECTION = "recs"
SYNTHETIC_USERS = 100_000
"""Synthetic users by default (`movie-rag bench --section recs --users N` for another count)."""
MAINTENANCE_WORK_MEM = "1GB"
"""For the index build: the graph of 100k users fits in memory (pgvector builds far slower once it
does not)."""
PROBES = 40


class _HashEmbedder:
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for t in texts:
            rng = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
            v = rng.normal(size=384)
            out.append([float(x) for x in v / np.linalg.norm(v)])
        return out

    def embed_query(self, text_: str) -> list[float]:
        return self.embed_documents([text_])[0]


def _database(url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.replace("/postgres?", f"/{name}?", 1)


# Synthetic users: n = a random real user's rating count; n draws from all real ratings.
_SYNTHETIC = """
WITH src AS (SELECT array_agg(movie_id ORDER BY user_id, movie_id) AS m,
                    array_agg(rating ORDER BY user_id, movie_id) AS r, count(*)::int AS c FROM public.ratings),
     counts AS (SELECT array_agg(n_ratings ORDER BY user_id) AS n, count(*)::int AS c FROM public.users),
     u AS (SELECT g AS user_id, counts.n[1 + floor(random() * counts.c)::int] AS n
           FROM generate_series(1, :users) g, counts),
     picks AS (SELECT DISTINCT ON (u.user_id, src.m[i]) u.user_id, src.m[i] AS movie_id, src.r[i] AS rating
               FROM u, src, LATERAL (SELECT 1 + floor(random() * src.c)::int AS i
                                     FROM generate_series(1, u.n)) d)
INSERT INTO ratings (user_id, movie_id, rating) SELECT user_id, movie_id, rating FROM picks
"""


def _say(msg: str) -> None:
    print(f"bench recs: {msg}", file=sys.stderr, flush=True)


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    wanted = sum(len(t) for t in truth)
    return hits / wanted if wanted else 1.0


def _timed(fn: Callable[[Any], list[int]], items: list[Any]) -> tuple[list[list[int]], list[float]]:
    """Each item's answer and the milliseconds per call, after calls on the first three."""
    for item in items[:3]:
        fn(item)
    found, samples = [], []
    for item in items:
        t0 = time.perf_counter()
        found.append(fn(item))
        samples.append((time.perf_counter() - t0) * 1000)
    return found, samples


def run(ctx: BenchContext) -> list[Figure]:
    from retrieval.database import make_engine
    from retrieval.ingest import ingest_movielens
    from retrieval.recommend import recommend_for
    from retrieval.schema import create_schema
    from retrieval.users import nearest_users, refresh_users, taste_of_user

    if ctx.movielens_dir is None:
        return []
    n_users = ctx.users or SYNTHETIC_USERS
    engine = make_engine(_database(ctx.db_url, "bench_recs"))
    figures: list[Figure] = []
    try:
        create_schema(engine)
        ingest_movielens(engine, ctx.movielens_dir, _HashEmbedder())
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT user_id FROM users ORDER BY user_id"))][:: 610 // PROBES]
            tastes: list[Any] = [taste_of_user(conn, u) for u in ids]
            figures += latency(SECTION, "nearest 50 users, ml-latest-small (sparse)",
                               ms_samples(lambda t: nearest_users(conn, t, k=50), tastes))
            figures += latency(SECTION, "nearest 50 users, ml-latest-small (dense profile)",
                               ms_samples(lambda t: nearest_users(conn, t, k=50, by="dense"), tastes))
            figures += latency(SECTION, "recommend 10, ml-latest-small (sparse, reasons)",
                               ms_samples(lambda t: recommend_for(conn, t, k=10), tastes, rounds=1))

            schema = f"bench_{uuid.uuid4().hex[:6]}"
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE TABLE {schema}.ratings (LIKE public.ratings)"))
            conn.execute(text(f"CREATE TABLE {schema}.users (LIKE public.users INCLUDING DEFAULTS)"))
            conn.execute(text("SELECT set_config('search_path', :p, false)"), {"p": f"{schema}, public"})
            conn.execute(text("SELECT setseed(0.42)"))
            _say(f"drawing {n_users:,} synthetic users")
            t0 = time.perf_counter()
            conn.execute(text(_SYNTHETIC), {"users": n_users})
            conn.execute(text("ALTER TABLE ratings ADD PRIMARY KEY (user_id, movie_id)"))
            conn.execute(text("ALTER TABLE users ADD PRIMARY KEY (user_id)"))
            refresh_users(conn)
            built_s = time.perf_counter() - t0
            figures.append(Figure(section=SECTION, name=f"build {n_users} synthetic users", value=built_s, unit="s"))
            stats = conn.execute(text(
                "SELECT count(*), avg(nnz), count(*) FILTER (WHERE nnz > :cap), "
                "(SELECT count(*) FROM ratings) FROM users"), {"cap": HNSW_SPARSE_MAX_NNZ}).one()
            _say(f"{stats[0]:,} users, {stats[3]:,} ratings, built in {built_s:.0f} s")
            figures += [
                Figure(section=SECTION, name="synthetic users: mean ratings per user", value=float(stats[1]),
                       unit="ratings"),
                Figure(section=SECTION, name=f"synthetic users above the HNSW limit ({HNSW_SPARSE_MAX_NNZ} non-zeros)",
                       value=int(stats[2]), unit="users"),
            ]
            probes = [t for t in (taste_of_user(conn, u) for u in range(1, n_users + 1, max(1, n_users // PROBES)))
                      if t is not None]

            def near(t: Any) -> list[int]:
                return [u for u, _ in nearest_users(conn, t, k=50)]

            def recs(t: Any) -> list[int]:
                return [r.hit.id for r in recommend_for(conn, t, k=10)]

            _say("exact scan (no index yet)")
            exact_ids, exact = _timed(near, probes)
            _, exact_recs = _timed(recs, probes)
            _say("building the partial HNSW index")
            t0 = time.perf_counter()
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
            conn.execute(text(
                "CREATE INDEX bench_users_hnsw ON users USING hnsw (centred sparsevec_cosine_ops) "
                f"WHERE nnz BETWEEN 1 AND {HNSW_SPARSE_MAX_NNZ}"))
            conn.execute(text("SET LOCAL maintenance_work_mem TO DEFAULT"))
            conn.execute(text("ANALYZE users"))
            index_s = time.perf_counter() - t0
            index_mb = conn.execute(text("SELECT pg_relation_size('bench_users_hnsw')")).scalar_one() / 2**20
            _say(f"index built in {index_s:.0f} s ({index_mb:.0f} MB)")
            figures += [
                Figure(section=SECTION, name=f"HNSW build, {n_users} synthetic users", value=index_s, unit="s"),
                Figure(section=SECTION, name=f"HNSW size, {n_users} synthetic users", value=index_mb, unit="MB"),
            ]
            scans = "SELECT pg_stat_get_xact_numscans('bench_users_hnsw'::regclass)"
            before = conn.execute(text(scans)).scalar_one()
            indexed_ids, indexed = _timed(near, probes)
            _, indexed_recs = _timed(recs, probes)
            figures.append(Figure(section=SECTION, name="synthetic users: searches the HNSW index served",
                                  value=conn.execute(text(scans)).scalar_one() - before, unit="scans"))
            plan = vector_plan(int(stats[0]), 50, kind="users_sparse")
            figures += latency(SECTION, f"nearest 50 of {n_users} synthetic users, exact scan", exact)
            figures += latency(SECTION, f"nearest 50 of {n_users} synthetic users, HNSW + exact heavy", indexed)
            figures.append(Figure(
                section=SECTION, name=f"nearest 50 of {n_users} synthetic users: HNSW recall@50 vs exact "
                f"({plan.describe()})", value=_recall(indexed_ids, exact_ids), unit=""))
            figures += latency(SECTION, f"recommend 10 among {n_users} synthetic users, exact scan", exact_recs)
            figures += latency(SECTION, f"recommend 10 among {n_users} synthetic users, HNSW", indexed_recs)
            conn.rollback()
    finally:
        engine.dispose()
    return figures
