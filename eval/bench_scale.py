"""Bench section `scale`: how vector search cost grows with the catalog, method by method.

`movie-rag bench --section scale [--rows N]` builds a catalog of N rows (100,000 by default) in a
database of its own on the bench's embedded server and measures, in one run and on the same
queries, the seed's approach (fetch every embedding into Python, rank with numpy), exact
`ORDER BY embedding <=> q`, HNSW (an m / ef_construction grid, an `hnsw.ef_search` sweep), HNSW on
`halfvec`, binary-quantized HNSW with a re-rank on the full vectors, and IVFFlat (a `probes`
sweep); then filtered kNN (a genre holding ~10 % of the rows, a year range, and a broad genre
holding ~40 %) with HNSW and no iterative scan, `strict_order` and `relaxed_order` at several
ef_search, beside `product`: what `retrieval.indexing.vector_plan` picks from the row count and the
planner's estimate of the rows the filter keeps (an exact scan of the matching rows for the two
selective filters at 100k rows, its filtered HNSW plan for the broad one). Recall@10 is against the exact SQL answer. The table has a GIN index on genres
and a btree on year, as the product's catalog has on its filter columns.

Vectors with the structure of real ones (eval/bench_scale_data.py): the seeds are the real catalog's texts (course films and
MovieLens titles, as `retrieval.embeddings.embedding_text` builds them) embedded with the product's
model (cached beside the results). Row i copies seed i mod S plus noise drawn from the seeds' own
covariance (so copies stay on the data's manifold rather than adding isotropic dimensions), scaled
so a copy is as close to its seed as a real film is to its nearest real neighbour (the median
nearest-neighbour cosine of the seeds), then renormalised. A copy keeps its seed's genres (so a
genre filter selects the same kind of vectors it would in a real catalog) and its year, jittered
by a few years. Queries: the catalog bench's 32 real phrases embedded, then fresh copies of seeds
never loaded. Rows travel by binary COPY through pgvector's psycopg adapter. Index methods run with
enable_seqscan off, so the index is what is timed even where the planner would scan a tiny table.

Each size's entry in bench/scale.json is replaced by a new run at that size; others are kept, so
runs at several sizes build the cost-vs-rows curve.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench import BenchContext, Figure, percentiles
from eval.bench_scale_data import (
    Synthetic,
    load_seeds,
    synthesize,
    ten_percent_genre,
    unit,
    year_range,
)
from eval.bench_scale_report import markdown, plots

SECTION = "scale"
DEFAULT_ROWS = 100_000
K = 10
DIM = 384
TABLE = "scale_movies"

HNSW_GRID = ((8, 32), (16, 64))
"""(m, ef_construction) pairs built; (16, 64) is pgvector's default and serves the other runs."""
HNSW_DEFAULT = (16, 64)
EF_SWEEP = (10, 20, 40, 80, 160, 320)
IVF_PROBES = (1, 3, 10, 30)
BQ_CANDIDATES = (40, 100, 200, 400)
"""Rows the binary index hands to the re-rank on the full vectors."""
FILTER_EFS = (40, 320, 1000)
"""ef_search of the filtered runs: pgvector's default (what a user gets untuned), the unfiltered
tuned value, and pgvector's maximum."""
BROAD_SHARE = 0.40
"""A third filter, a genre holding ~40 % of the rows: too many rows for the product's exact
filtered scan, so `product` runs its filtered HNSW plan on it."""
TARGET_SPEEDUP = 50.0
TARGET_RECALL = 0.98
TARGET_FILTERED_RECALL = 0.95


@dataclass(kw_only=True)
class Options:
    rows: int = DEFAULT_ROWS
    queries: int = 40
    """Query vectors timed per method (the first 32 are real phrases)."""
    fetch_all_queries: int = 5
    """The fetch-all path moves the whole table per query; a few samples say enough."""
    rounds: int = 1
    seed_limit: int | None = None
    """Use only this many seed films (tests); None: every course film and MovieLens title."""
    hnsw_grid: Sequence[tuple[int, int]] = HNSW_GRID
    ef_sweep: Sequence[int] = EF_SWEEP
    ivf_probes: Sequence[int] = IVF_PROBES
    bq_candidates: Sequence[int] = BQ_CANDIDATES
    progress: bool = True
    rng_seed: int = 13


@dataclass(kw_only=True)
class Method:
    family: str
    params: dict[str, Any]
    recall_at_10: float
    p50_ms: float
    p95_ms: float
    build_s: float | None = None
    index_mb: float | None = None
    server_rss_mb: float | None = None
    server_pss_mb: float | None = None
    uses_index: bool | None = None
    speedup_vs_fetch_all: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- database -----------------------------------------------------------------------------------


def _connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url, autocommit=True)
    register_vector(conn)
    return conn


def create_database(server_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server_url, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_table(conn: Any, data: Synthetic, progress: bool) -> float:
    """Create the table and binary-COPY every row in; return the seconds the COPY took."""
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(
        f"CREATE TABLE {TABLE} (id int PRIMARY KEY, title text NOT NULL, year int, "
        f"genres text[] NOT NULL, embedding vector({DIM}) NOT NULL)"
    )
    conn.execute(f"ALTER TABLE {TABLE} ALTER COLUMN embedding SET STORAGE MAIN")  # as the product does
    bar = _bar(progress, len(data.vectors), "scale: COPY", "row")
    t0 = time.perf_counter()
    with conn.cursor() as cur, cur.copy(
        f"COPY {TABLE} (id, title, year, genres, embedding) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "text", "int4", "text[]", "vector"])
        for i, vec in enumerate(data.vectors):
            copy.write_row((i + 1, data.titles[i], data.years[i], data.genres[i], vec))
            if bar is not None and i % 5000 == 4999:
                bar.update(5000)
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    # The product's catalog has an index on every filter column (retrieval/schema.py), so an exact
    # filtered scan there fetches only the matching rows; the bench table has the same.
    conn.execute(f"CREATE INDEX {TABLE}_genres ON {TABLE} USING gin (genres)")
    conn.execute(f"CREATE INDEX {TABLE}_year ON {TABLE} (year)")
    conn.execute(f"VACUUM ANALYZE {TABLE}")
    return seconds


def _bar(progress: bool, total: int, desc: str, unit: str):  # type: ignore[no-untyped-def]
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def _mb(conn: Any, relation: str) -> float:
    return float(conn.execute("SELECT pg_relation_size(%s)", (relation,)).fetchone()[0]) / 2**20


def _proc_kb(pid: int, path: str, key: str) -> float:
    for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return 0.0


def server_memory(conn: Any) -> tuple[float | None, float | None]:
    """(RSS of the backend serving `conn`, PSS summed over the whole server) in MiB; None where
    /proc cannot tell (not Linux, no permission)."""
    pid = conn.info.backend_pid
    try:
        rss = _proc_kb(pid, "status", "VmRSS") / 1024
        parent = int(_proc_kb(pid, "status", "PPid"))
        pids = [parent]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int(_proc_kb(int(entry.name), "status", "PPid")) == parent:
                        pids.append(int(entry.name))
                except OSError:
                    continue
        pss = sum(_proc_kb(p, "smaps_rollup", "Pss") for p in pids) / 1024
    except (OSError, ValueError):
        return None, None
    return round(rss, 1), round(pss, 1)


def uses_index(conn: Any, sql: str, params: tuple[Any, ...]) -> bool:
    """Whether a vector index (not the filter columns' btree/GIN) serves `sql`."""
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())
    return any(f"Index Scan using {name} " in plan for name in VECTOR_INDEXES)


# --- measuring ----------------------------------------------------------------------------------


def recall(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    wanted = sum(len(t) for t in truth)
    return hits / wanted if wanted else 1.0


def measure(fn: Callable[[np.ndarray], list[int]], queries: np.ndarray, rounds: int, warmup: int = 3) -> tuple[list[list[int]], list[float]]:
    """Each query's ids (first round) and the milliseconds per call."""
    for q in queries[:warmup]:
        fn(q)
    found: list[list[int]] = []
    samples = []
    for r in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            ids = fn(q)
            samples.append((time.perf_counter() - t0) * 1000)
            if r == 0:
                found.append(ids)
    return found, samples


def _ids(conn: Any, sql: str, params: tuple[Any, ...]) -> list[int]:
    return [r[0] for r in conn.execute(sql, params).fetchall()]


def _around(conn: Any, sql: str, middle: tuple[Any, ...]) -> Callable[[np.ndarray], list[int]]:
    """fn(q) running `sql` with parameters (q, *middle, q)."""

    def run(q: np.ndarray) -> list[int]:
        return _ids(conn, sql, (q, *middle, q))

    return run


def _method(family: str, params: dict[str, Any], found: list[list[int]], samples: list[float],
            truth: list[list[int]], conn: Any, **kw: Any) -> Method:
    p50, p95 = percentiles(samples)
    rss, pss = server_memory(conn)
    return Method(family=family, params=params, recall_at_10=round(recall(found, truth), 4),
                  p50_ms=round(p50, 3), p95_ms=round(p95, 3), server_rss_mb=rss, server_pss_mb=pss, **kw)


def fetch_all(conn: Any) -> Callable[[np.ndarray], list[int]]:
    """The seed's way: every embedding into Python (binary, the fastest form it can take), then
    cosine with numpy and a top-k."""

    def run(q: np.ndarray) -> list[int]:
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(f"SELECT id, embedding FROM {TABLE}").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.stack([np.asarray(r[1].to_numpy() if hasattr(r[1], "to_numpy") else r[1]) for r in rows])
        sims = matrix @ q / np.linalg.norm(matrix, axis=1)
        top = np.argpartition(-sims, K)[:K]
        return [int(i) for i in ids[top[np.argsort(-sims[top])]]]

    return run


VECTOR_INDEXES = ("scale_hnsw", "scale_half", "scale_bq", "scale_ivf")


def _build(conn: Any, name: str, ddl: str) -> tuple[float, float]:
    conn.execute(f"DROP INDEX IF EXISTS {name}")
    t0 = time.perf_counter()
    conn.execute(ddl)
    return time.perf_counter() - t0, _mb(conn, name)


EXACT_SQL = f"SELECT id FROM {TABLE} ORDER BY embedding <=> %s LIMIT {K}"
HNSW_SQL = EXACT_SQL
HALF_SQL = f"SELECT id FROM {TABLE} ORDER BY embedding::halfvec({DIM}) <=> %s::halfvec({DIM}) LIMIT {K}"
BQ_SQL = (
    f"SELECT id FROM (SELECT id, embedding FROM {TABLE} ORDER BY binary_quantize(embedding)::bit({DIM}) "
    f"<~> binary_quantize(%s::vector) LIMIT %s) c ORDER BY embedding <=> %s LIMIT {K}"
)


def filtered_sql(where: str, relaxed: bool) -> str:
    inner = f"SELECT id, embedding <=> %s AS d FROM {TABLE} WHERE {where} ORDER BY embedding <=> %s LIMIT {K}"
    if relaxed:  # relaxed_order may return rows slightly out of order: re-sort them (pgvector docs)
        return f"WITH c AS MATERIALIZED ({inner}) SELECT id FROM c ORDER BY d"
    return f"SELECT id FROM ({inner}) c ORDER BY d"


def run_size(ctx: BenchContext, server_url: str, cache_dir: Path, opts: Options) -> dict[str, Any]:
    """Every method at `opts.rows` rows; the result entry for scale.json."""
    rng = np.random.default_rng(opts.rng_seed)
    seeds = load_seeds(ctx, cache_dir, opts.seed_limit, opts.progress)
    data, perturber = synthesize(seeds, opts.rows, rng)
    from eval.bench_catalog import QUERIES
    from retrieval.embeddings import load_embedder

    embedder = ctx.cache.get("embedder") or load_embedder()
    ctx.cache["embedder"] = embedder
    phrases = np.asarray(embedder.embed_documents(list(QUERIES[:opts.queries])), dtype=np.float32).reshape(-1, DIM)
    held_out = perturber.copies(rng.integers(0, len(seeds.vectors), max(0, opts.queries - len(phrases))))
    queries = unit(np.vstack([phrases, held_out]))

    dbname = f"bench_scale_{opts.rows}"
    url = create_database(server_url, dbname)
    conn = _connect(url)
    methods: dict[str, Method] = {}
    filtered: dict[str, dict[str, Any]] = {}
    try:
        copy_s = load_table(conn, data, opts.progress)
        conn.execute("SET maintenance_work_mem = '2GB'")
        steps = 6 + len(opts.hnsw_grid)
        bar = _bar(opts.progress, steps, "scale: methods", "step")

        def step(desc: str) -> None:
            if bar is not None:
                bar.set_description(f"scale: {desc}")
                bar.update(1)

        # 1. exact in SQL (no index exists yet): the truth every recall is measured against
        step("exact")
        truth, samples = measure(lambda q: _ids(conn, EXACT_SQL, (q,)), queries, opts.rounds)
        methods["exact"] = _method("exact", {}, truth, samples, truth, conn, uses_index=False)

        genre, genre_share = ten_percent_genre(data.genres)
        y0, y1, year_share = year_range(data.years)
        broad, broad_share = ten_percent_genre(data.genres, BROAD_SHARE)
        filters = {
            f"genre {genre}": ("genres @> ARRAY[%s]::text[]", (genre,), genre_share),
            f"year {y0}-{y1}": ("year BETWEEN %s AND %s", (y0, y1), year_share),
        }
        if broad != genre:
            filters[f"genre {broad} (broad)"] = ("genres @> ARRAY[%s]::text[]", (broad,), broad_share)
        filter_truth: dict[str, list[list[int]]] = {}
        for label, (where, fparams, share) in filters.items():
            sql = filtered_sql(where, relaxed=False)
            found, samples = measure(_around(conn, sql, fparams), queries, opts.rounds)
            filter_truth[label] = found
            p50, p95 = percentiles(samples)
            filtered[label] = {"share_of_rows": round(share, 4), "exact": {
                "recall_at_10": 1.0, "p50_ms": round(p50, 3), "p95_ms": round(p95, 3),
                "mean_rows_returned": round(float(np.mean([len(f) for f in found])), 2)}}

        # 2. the seed's approach
        step("fetch-all + numpy")
        nf = max(1, min(opts.fetch_all_queries, len(queries)))
        found, samples = measure(fetch_all(conn), queries[:nf], 1, warmup=1)
        methods["fetch_all"] = _method("fetch_all", {"queries": nf}, found, samples, truth[:nf], conn)

        # 3. HNSW grid x ef_search sweep (the default pair also serves the filtered runs). From here
        # on the index is what is measured: at small N the planner would sometimes scan instead.
        conn.execute("SET enable_seqscan = off")
        grid = [tuple(p) for p in opts.hnsw_grid]
        filter_pair = HNSW_DEFAULT if HNSW_DEFAULT in grid else grid[-1]
        for m, efc in opts.hnsw_grid:
            step(f"HNSW m={m} ef_construction={efc}")
            build_s, index_mb = _build(conn, "scale_hnsw", f"CREATE INDEX scale_hnsw ON {TABLE} USING hnsw "
                                       f"(embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {efc})")
            methods |= _ef_sweep(conn, "hnsw", HNSW_SQL, (m, efc), (build_s, index_mb), queries, truth, opts)
            if (m, efc) == filter_pair:
                _filtered_runs(conn, filters, filter_truth, filtered, queries, opts, m, efc)
            conn.execute("DROP INDEX scale_hnsw")

        # 4. HNSW on halfvec
        m, efc = HNSW_DEFAULT
        step("HNSW halfvec")
        build_s, index_mb = _build(conn, "scale_half", f"CREATE INDEX scale_half ON {TABLE} USING hnsw "
                                   f"((embedding::halfvec({DIM})) halfvec_cosine_ops) WITH (m = {m}, ef_construction = {efc})")
        methods |= _ef_sweep(conn, "hnsw_halfvec", HALF_SQL, (m, efc), (build_s, index_mb), queries, truth, opts)
        conn.execute("DROP INDEX scale_half")

        # 5. binary quantization + re-rank on the full vectors
        step("HNSW binary + re-rank")
        build_s, index_mb = _build(conn, "scale_bq", f"CREATE INDEX scale_bq ON {TABLE} USING hnsw "
                                   f"((binary_quantize(embedding)::bit({DIM})) bit_hamming_ops) "
                                   f"WITH (m = {m}, ef_construction = {efc})")
        for cand in opts.bq_candidates:
            conn.execute(f"SET hnsw.ef_search = {min(1000, max(40, int(cand)))}")
            found, samples = measure(_around(conn, BQ_SQL, (cand,)), queries, opts.rounds)
            methods[f"binary_rerank_cand{cand}"] = _method(
                "hnsw_binary_rerank", {"m": m, "ef_construction": efc, "candidates": cand}, found, samples,
                truth, conn, build_s=round(build_s, 2), index_mb=round(index_mb, 1),
                uses_index=uses_index(conn, BQ_SQL, (queries[0], cand, queries[0])))
        conn.execute("DROP INDEX scale_bq")

        # 6. IVFFlat, lists = rows / 1000 (pgvector's guidance up to 1M rows)
        lists = max(1, opts.rows // 1000)
        step(f"IVFFlat lists={lists}")
        build_s, index_mb = _build(conn, "scale_ivf", f"CREATE INDEX scale_ivf ON {TABLE} USING ivfflat "
                                   f"(embedding vector_cosine_ops) WITH (lists = {lists})")
        for probes in opts.ivf_probes:
            if probes > lists:
                continue
            conn.execute(f"SET ivfflat.probes = {int(probes)}")
            found, samples = measure(lambda q: _ids(conn, EXACT_SQL, (q,)), queries, opts.rounds)
            methods[f"ivfflat_lists{lists}_probes{probes}"] = _method(
                "ivfflat", {"lists": lists, "probes": probes}, found, samples, truth, conn,
                build_s=round(build_s, 2), index_mb=round(index_mb, 1),
                uses_index=uses_index(conn, EXACT_SQL, (queries[0],)))
        conn.execute("DROP INDEX scale_ivf")
        step("done")
        if bar is not None:
            bar.close()
        table_mb = _mb(conn, TABLE)
    finally:
        conn.close()
        drop_database(server_url, dbname)

    base = methods["fetch_all"].p50_ms
    for meth in methods.values():
        meth.speedup_vs_fetch_all = round(base / meth.p50_ms, 1) if meth.p50_ms else None
    return {
        "rows": opts.rows, "dim": DIM, "k": K, "queries": len(queries),
        "query_kinds": {"real_phrases": len(phrases), "held_out_copies": len(held_out)},
        "seeds": {"films": len(seeds.vectors), "source": seeds.source,
                  "nearest_neighbour_cosine": round(data.target_cosine, 4),
                  "copy_cosine_to_seed": round(data.mean_cosine_to_seed, 4),
                  "noise_scale": round(data.noise_scale, 5)},
        "load": {"copy_s": round(copy_s, 2), "rows_per_s": round(opts.rows / copy_s)},
        "table_mb": round(table_mb, 1),
        "methods": {name: _method_json(meth) for name, meth in methods.items()},
        "filtered": filtered,
        "best": best_methods(methods),
    }


def _ef_sweep(conn: Any, family: str, sql: str, pair: tuple[int, int], built: tuple[float, float],
              queries: np.ndarray, truth: list[list[int]], opts: Options) -> dict[str, Method]:
    """One HNSW index at every ef_search of the sweep."""
    (m, efc), (build_s, index_mb) = pair, built
    prefix = "halfvec" if family == "hnsw_halfvec" else "hnsw"
    out = {}
    for ef in opts.ef_sweep:
        conn.execute(f"SET hnsw.ef_search = {int(ef)}")
        found, samples = measure(lambda q: _ids(conn, sql, (q,)), queries, opts.rounds)
        out[f"{prefix}_m{m}_efc{efc}_ef{ef}"] = _method(
            family, {"m": m, "ef_construction": efc, "ef_search": ef}, found, samples, truth, conn,
            build_s=round(build_s, 2), index_mb=round(index_mb, 1), uses_index=uses_index(conn, sql, (queries[0],)))
    return out


def _filtered_runs(conn: Any, filters: dict[str, Any], truth: dict[str, list[list[int]]], out: dict[str, Any],
                   queries: np.ndarray, opts: Options, m: int, efc: int) -> None:
    # The HNSW runs measure the index: with the filter columns indexed, the planner would
    # otherwise answer some of them exactly with a bitmap scan.
    conn.execute("SET enable_bitmapscan = off")
    for label, (where, fparams, _) in filters.items():
        for ef, mode in ((ef, mode) for ef in FILTER_EFS for mode in ("off", "strict_order", "relaxed_order")):
            conn.execute(f"SET hnsw.ef_search = {ef}")
            conn.execute(f"SET hnsw.iterative_scan = {mode}")
            sql = filtered_sql(where, relaxed=mode == "relaxed_order")
            found, samples = measure(_around(conn, sql, fparams), queries, opts.rounds)
            p50, p95 = percentiles(samples)
            out[label][f"hnsw_{mode}_ef{ef}"] = {
                "recall_at_10": round(recall(found, truth[label]), 4), "p50_ms": round(p50, 3),
                "p95_ms": round(p95, 3), "m": m, "ef_construction": efc, "ef_search": ef,
                "mean_rows_returned": round(float(np.mean([len(f) for f in found])), 2),
                "uses_index": uses_index(conn, sql, (queries[0], *fparams, queries[0])),
            }
    conn.execute("SET hnsw.iterative_scan = off")
    conn.execute("SET enable_bitmapscan = on")
    _product_runs(conn, filters, truth, out, queries, opts)


def _product_runs(conn: Any, filters: dict[str, Any], truth: dict[str, list[list[int]]], out: dict[str, Any],
                  queries: np.ndarray, opts: Options) -> None:
    """What the product runs for each filter: `retrieval.indexing.vector_plan` from the row count
    and the planner's estimate of the rows the filter keeps (exact, or HNSW with its settings)."""
    from retrieval.indexing import vector_plan

    rows = int(conn.execute(f"SELECT reltuples::bigint FROM pg_class WHERE oid = '{TABLE}'::regclass").fetchone()[0])
    for label, (where, fparams, _) in filters.items():
        explained = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} WHERE {where}", fparams).fetchone()[0]
        matching = int(explained[0]["Plan"]["Plan Rows"])
        plan = vector_plan(rows, K, filtered=True, matching=matching)
        exact = plan.method == "exact"
        sql = (f"SELECT id FROM {TABLE} WHERE {where} ORDER BY embedding <=> %s, id LIMIT {K}" if exact
               else filtered_sql(where, relaxed=False))

        def args(q: np.ndarray, p: tuple[Any, ...] = fparams, exact: bool = exact) -> tuple[Any, ...]:
            return (*p, q) if exact else (q, *p, q)

        conn.execute("SET enable_seqscan = on")  # the product leaves the planner its choices
        conn.execute("BEGIN")
        try:
            for statement in plan.settings_sql():
                conn.execute(statement)
            found, samples = measure(lambda q: _ids(conn, sql, args(q)), queries, opts.rounds)  # noqa: B023
            index = uses_index(conn, sql, args(queries[0]))
        finally:
            conn.execute("COMMIT")
            conn.execute("SET enable_seqscan = off")
        p50, p95 = percentiles(samples)
        out[label]["product"] = {
            "recall_at_10": round(recall(found, truth[label]), 4), "p50_ms": round(p50, 3),
            "p95_ms": round(p95, 3), "plan": plan.describe(), "estimated_rows": matching,
            "ef_search": plan.ef_search, "settings": plan.settings_sql(),
            "mean_rows_returned": round(float(np.mean([len(f) for f in found])), 2), "uses_index": index,
        }


def _method_json(m: Method) -> dict[str, Any]:
    out = {"family": m.family, **m.params, "recall_at_10": m.recall_at_10, "p50_ms": m.p50_ms,
           "p95_ms": m.p95_ms, "build_s": m.build_s, "index_mb": m.index_mb,
           "speedup_vs_fetch_all": m.speedup_vs_fetch_all, "server_rss_mb": m.server_rss_mb,
           "server_pss_mb": m.server_pss_mb, "uses_index": m.uses_index}
    return out | m.extra


def best_methods(methods: dict[str, Method]) -> dict[str, Any]:
    """Per family, the fastest setting whose recall@10 reaches TARGET_RECALL (None if none does)."""
    best: dict[str, Any] = {}
    for name, m in methods.items():
        if m.recall_at_10 >= TARGET_RECALL and (m.family not in best or m.p50_ms < best[m.family]["p50_ms"]):
            best[m.family] = {"method": name, "p50_ms": m.p50_ms, "recall_at_10": m.recall_at_10}
    return best


# --- outputs ------------------------------------------------------------------------------------


def write_outputs(out_dir: Path, entry: dict[str, Any]) -> list[Path]:
    """Merge `entry` into out_dir/scale.json (replacing its size) and redraw the table and curves."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "scale.json"
    doc: dict[str, Any] = {"sizes": {}}
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
            doc.setdefault("sizes", {})
        except json.JSONDecodeError:
            doc = {"sizes": {}}
    doc["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    doc["sizes"][str(entry["rows"])] = entry | {"when": doc["when"]}
    doc["sizes"] = dict(sorted(doc["sizes"].items(), key=lambda kv: int(kv[0])))
    path.write_text(json.dumps(doc, indent=2) + "\n")
    (out_dir / "scale.md").write_text(markdown(doc, target_recall=TARGET_RECALL, hnsw=HNSW_DEFAULT,
                                                     target_filtered=TARGET_FILTERED_RECALL))
    return [path, out_dir / "scale.md", *plots(out_dir, doc, target_recall=TARGET_RECALL)]


# --- section entry ------------------------------------------------------------------------------


def figures(entry: dict[str, Any]) -> list[Figure]:
    """The headline figures for bench/results.json."""
    rows = entry["rows"]
    out = [Figure(section=SECTION, name=f"{rows} rows: binary COPY", value=entry["load"]["rows_per_s"], unit="rows/s")]
    for fam in ("fetch_all", "exact"):
        out.append(Figure(section=SECTION, name=f"{rows} rows: {fam} p50", value=entry["methods"][fam]["p50_ms"], unit="ms"))
    hnsw = entry["best"].get("hnsw")
    if hnsw:
        m = entry["methods"][hnsw["method"]]
        out.append(Figure(section=SECTION, name=f"{rows} rows: {hnsw['method']} speedup vs fetch-all",
                          value=m["speedup_vs_fetch_all"], unit="x", target=f">= {TARGET_SPEEDUP:g}x at recall@10 >= {TARGET_RECALL}",
                          ok=m["speedup_vs_fetch_all"] >= TARGET_SPEEDUP))
    else:
        out.append(Figure(section=SECTION, name=f"{rows} rows: HNSW reaching recall@10 {TARGET_RECALL}", value=0,
                          unit="settings", target=">= 1", ok=False))
    for label, runs in entry["filtered"].items():
        for mode, r in runs.items():
            if not (mode.startswith("hnsw_") or mode == "product"):
                continue
            out.append(Figure(section=SECTION, name=f"{rows} rows: filtered {label}, {mode} recall@10",
                              value=r["recall_at_10"], unit="", target=f">= {TARGET_FILTERED_RECALL}",
                              ok=r["recall_at_10"] >= TARGET_FILTERED_RECALL))
    return out


def run(ctx: BenchContext) -> list[Figure]:
    out_dir = ctx.out_dir or Path("bench")
    opts = Options(rows=ctx.rows or DEFAULT_ROWS)
    entry = run_size(ctx, ctx.db_url, out_dir, opts)
    write_outputs(out_dir, entry)
    return figures(entry)
