"""`movie-rag bench --section recs`: nearest users and recommendations.

On ml-latest-small (610 users; films embedded by a cheap deterministic stand-in, since these are
speed figures and the model's vectors do not change the work the queries do), and on a synthetic
set of `SYNTHETIC_USERS` users drawn like MovieLens (each takes the rating count of a random real
user, and that many draws from the real ratings, so films come by popularity with real stars),
searched through the partial HNSW index and by exact scan.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import text

from eval.bench import BenchContext, Figure, latency, ms_samples

SECTION = "recs"
SYNTHETIC_USERS = 100_000
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


def run(ctx: BenchContext) -> list[Figure]:
    from retrieval.database import make_engine
    from retrieval.ingest import ingest_movielens
    from retrieval.recommend import recommend_for
    from retrieval.schema import create_schema
    from retrieval.users import nearest_users, refresh_users, taste_of_user

    if ctx.movielens_dir is None:
        return []
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
            t0 = time.perf_counter()
            conn.execute(text(_SYNTHETIC), {"users": SYNTHETIC_USERS})
            conn.execute(text("ALTER TABLE ratings ADD PRIMARY KEY (user_id, movie_id)"))
            conn.execute(text("ALTER TABLE users ADD PRIMARY KEY (user_id)"))
            refresh_users(conn)
            figures.append(Figure(section=SECTION, name=f"build {SYNTHETIC_USERS} synthetic users",
                                  value=time.perf_counter() - t0, unit="s"))
            stats = conn.execute(text(
                "SELECT count(*), avg(nnz), count(*) FILTER (WHERE nnz > 1000) FROM users")).one()
            figures.append(Figure(section=SECTION, name="synthetic users: mean ratings per user",
                                  value=float(stats[1]), unit="ratings"))
            probes = [taste_of_user(conn, u) for u in range(1, SYNTHETIC_USERS + 1, SYNTHETIC_USERS // PROBES)]
            exact = ms_samples(lambda t: nearest_users(conn, t, k=50), probes, rounds=1)  # no index yet
            t0 = time.perf_counter()
            conn.execute(text(
                "CREATE INDEX ON users USING hnsw (centred sparsevec_cosine_ops) WHERE nnz BETWEEN 1 AND 1000"))
            conn.execute(text("ANALYZE users"))
            figures.append(Figure(section=SECTION, name=f"HNSW build, {SYNTHETIC_USERS} synthetic users",
                                  value=time.perf_counter() - t0, unit="s"))
            indexed = ms_samples(lambda t: nearest_users(conn, t, k=50), probes, rounds=1)
            figures += latency(SECTION, f"nearest 50 of {SYNTHETIC_USERS} synthetic users, exact scan", exact)
            figures += latency(SECTION, f"nearest 50 of {SYNTHETIC_USERS} synthetic users, HNSW + exact heavy", indexed)
            conn.rollback()
    finally:
        engine.dispose()
    return figures
