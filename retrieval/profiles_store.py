"""Where each embedding profile's vectors live, how they are (re-)embedded, and the similarity
SQL over them. The layout (a table per profile keyed by movie id) is explained in
retrieval/profiles.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from retrieval.embeddings import BATCH_SIZE, embed_in_batches
from retrieval.indexing import EXACT, VectorPlan, plan_search
from retrieval.indexing import apply as apply_plan
from retrieval.profiles import PROFILES, Profile, installed
from retrieval.types import Embedder, Metric, MovieHit, SearchFilters

# --- storage---------------------------------------------------------------------------------

_SETUP_LOCK = 727_001  # the schema's advisory lock: profile tables are part of the schema


_READY: set[tuple[str, str]] = set()
"""(engine, table) pairs known to exist in this process: searches then issue no DDL."""


def ensure_storage(engine: Engine, profile: Profile) -> None:
    """Create the profile's table and indexes if missing (idempotent; the default needs none)."""
    if profile.default or (str(engine.url), profile.table) in _READY:
        return
    t, d = profile.table, int(profile.dim)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SETUP_LOCK})
        if conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": t}).scalar_one():
            _READY.add((str(engine.url), t))
            return  # no DDL (ALTER TABLE would lock out readers) once the table exists
        conn.execute(text(
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "movie_id integer PRIMARY KEY REFERENCES movies(id) ON DELETE CASCADE, "
            f"embedding_text text NOT NULL, embedding vector({d}) NOT NULL, "
            f"bits bit({d}) GENERATED ALWAYS AS (binary_quantize(embedding)::bit({d})) STORED)"
        ))
        conn.execute(text(f"ALTER TABLE {t} ALTER COLUMN embedding SET STORAGE MAIN"))
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_cosine_ops)"
        ))
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS {t}_bits_hnsw ON {t} USING hnsw (bits bit_hamming_ops)"
        ))
    _READY.add((str(engine.url), t))


def has_storage(engine: Engine, profile: Profile) -> bool:
    if profile.default:
        return True
    with engine.connect() as conn:
        return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": profile.table}).scalar_one()


def counts(engine: Engine, profile: Profile) -> tuple[int, int]:
    """(movies with a current vector for this profile, movies in the catalog)."""
    with engine.connect() as conn:
        total = int(conn.execute(text("SELECT count(*) FROM movies")).scalar_one())
        if profile.default:
            done = conn.execute(text("SELECT count(*) FROM movies WHERE embedding IS NOT NULL")).scalar_one()
        elif not has_storage(engine, profile):
            done = 0
        else:
            done = conn.execute(text(
                f"SELECT count(*) FROM {profile.table} v JOIN movies m ON m.id = v.movie_id"
            )).scalar_one()
    return int(done), total


_RECIPE_COLUMNS = "id, title, year, country, summary, genres, director, actors"


@dataclass
class EmbedReport:
    profile: str
    embedded: int
    """Rows (re-)embedded in this run."""
    unchanged: int
    """Rows whose vector was already current (a resumed or repeated run skips them)."""
    total: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pending(engine: Engine, profile: Profile) -> tuple[list[tuple[int, str]], int]:
    """(id, text) of the rows whose vector is missing or was made from another text; and the total."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {_RECIPE_COLUMNS} FROM movies ORDER BY id")).mappings().all()
        if profile.default:
            stored = conn.execute(text("SELECT id, embedding_text FROM movies WHERE embedding IS NOT NULL"))
        else:
            stored = conn.execute(text(f"SELECT movie_id, embedding_text FROM {profile.table}"))
        have: dict[int, str] = {r[0]: r[1] for r in stored}
    todo = [(r["id"], t) for r in rows if have.get(r["id"]) != (t := profile.text(dict(r)))]
    return todo, len(rows)


def embed_profile(
    engine: Engine, profile: Profile, embedder: Embedder, *, batch_size: int = BATCH_SIZE,
    progress: bool = False, on_batch: Callable[[int], None] | None = None,
) -> EmbedReport:
    """Embed every movie whose vector for `profile` is missing or stale.

    Each batch is written in its own transaction, so an interrupted run keeps what it finished and
    the next run resumes where it stopped (rows already current are not embedded again).
    """
    started = time.perf_counter()
    ensure_storage(engine, profile)
    todo, total = pending(engine, profile)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"embedding ({profile.name})", unit="movie", leave=False)
    if profile.default:
        upsert = text("UPDATE movies SET embedding = CAST(:v AS vector), embedding_text = :t WHERE id = :id")
    else:
        upsert = text(
            f"INSERT INTO {profile.table} (movie_id, embedding_text, embedding) "
            "VALUES (:id, :t, CAST(:v AS vector)) ON CONFLICT (movie_id) DO UPDATE "
            "SET embedding_text = EXCLUDED.embedding_text, embedding = EXCLUDED.embedding"
        )
    try:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            vectors = embed_in_batches(embedder, [t for _, t in chunk], batch_size=batch_size, dim=profile.dim)
            with engine.begin() as conn:
                conn.execute(upsert, [
                    {"id": i, "t": t, "v": _literal(v)} for (i, t), v in zip(chunk, vectors, strict=True)
                ])
            if bar is not None:
                bar.update(len(chunk))
            if on_batch is not None:
                on_batch(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    if profile.default and todo:
        # The users' dense profiles are means of the default profile's vectors: recompute them
        # from the new ones (an interrupted run leaves them to the next run, which lands here).
        from retrieval.users import refresh_profiles

        with engine.begin() as conn:
            refresh_profiles(conn)
    return EmbedReport(profile=profile.name, embedded=len(todo), unchanged=total - len(todo),
                       total=total, seconds=round(time.perf_counter() - started, 3))


def _literal(vec: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vec) + "]"


# --- similarity per profile ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """SQL pieces naming one profile's vectors (`m` is movies; the anchor row is bound as :anchor)."""

    join: str
    vec: str
    bits: str
    anchor_vec: str
    anchor_bits: str


def _source(profile: Profile) -> _Source:
    d = int(profile.dim)
    if profile.default:
        return _Source(
            join="", vec="m.embedding", bits=f"binary_quantize(m.embedding)::bit({d})",
            anchor_vec="(SELECT a.embedding FROM movies a WHERE a.id = :anchor)",
            anchor_bits=f"(SELECT binary_quantize(a.embedding)::bit({d}) FROM movies a WHERE a.id = :anchor)",
        )
    t = profile.table
    return _Source(
        join=f" JOIN {t} v ON v.movie_id = m.id", vec="v.embedding", bits="v.bits",
        anchor_vec=f"(SELECT a.embedding FROM {t} a WHERE a.movie_id = :anchor)",
        anchor_bits=f"(SELECT a.bits FROM {t} a WHERE a.movie_id = :anchor)",
    )


_OPERATORS: Mapping[str, tuple[str, bool]] = {
    "cosine": ("<=>", False), "l2": ("<->", False), "inner": ("<#>", False),
    "l1": ("<+>", False), "hamming": ("<~>", True), "jaccard": ("<%>", True),
}


def distance_sql(profile: Profile, metric: Metric) -> str:
    """The distance of row `m` to the anchor row, for this profile and metric (fixed SQL)."""
    if metric not in _OPERATORS:
        raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(_OPERATORS)}.")
    op, on_bits = _OPERATORS[metric]
    s = _source(profile)
    return f"{s.bits} {op} {s.anchor_bits}" if on_bits else f"{s.vec} {op} {s.anchor_vec}"


def score(profile: Profile, metric: Metric, distance: float) -> float:
    """A distance as a score where higher is more similar (retrieval/search.py's table; hamming
    divides by this profile's bit count)."""
    if metric in ("cosine", "jaccard"):
        return 1.0 - distance
    if metric == "inner":
        return -distance
    if metric == "hamming":
        return 1.0 - distance / profile.dim
    return 1.0 / (1.0 + distance)


def _plan(conn: Connection, profile: Profile, k: int, where: str, params: Mapping[str, Any]) -> VectorPlan:
    """`retrieval.indexing`'s plan for a k-nearest read over this profile's vectors."""
    table = "movies" if profile.default else profile.table
    return plan_search(conn, k=int(k), table=table, from_sql="movies m" + _source(profile).join,
                       where=where, params=params)


def similar_to_id(
    engine: Engine, profile: Profile, anchor: int, *, metric: Metric = "cosine",
    k: int | None = 10, filters: SearchFilters | None = None,
) -> list[MovieHit]:
    """The `k` rows nearest to row `anchor` in this profile's vectors (None: every row, nearest
    first: what `compare` needs for medians and histograms). Run as `retrieval.indexing` plans:
    exact with ties broken by id on small catalogs."""
    from retrieval.search import MOVIE_COLUMNS, filter_sql, hit_from_row

    ensure_storage(engine, profile)
    s = _source(profile)
    where, params = filter_sql(filters)
    not_null = "m.embedding IS NOT NULL AND " if profile.default else ""
    bound = {"anchor": int(anchor), **params}
    if k is not None:
        bound["k"] = int(k)
    with engine.connect() as conn:
        # k = None orders every row: an exact sort whatever the size.
        plan = EXACT if k is None else _plan(conn, profile, k, where, params)
        apply_plan(conn, plan)
        statement = (
            f"SELECT {MOVIE_COLUMNS}, {distance_sql(profile, metric)} AS distance FROM movies m{s.join} "
            f"WHERE {not_null}m.id <> :anchor AND {s.anchor_vec} IS NOT NULL{where} "
            f"ORDER BY distance{plan.order_tail()}" + (" LIMIT :k" if k is not None else "")
        )
        rows = conn.execute(text(statement), bound).all()
    return [hit_from_row(r, score=score(profile, metric, r.distance), distance=r.distance) for r in rows]


def dense_search(
    engine: Engine, profile: Profile, qvec: Sequence[float], *, k: int = 10,
    filters: SearchFilters | None = None,
) -> list[MovieHit]:
    """Rows nearest to an embedded query in this profile's vectors (cosine; score = 1 - distance)."""
    from pgvector.sqlalchemy import VECTOR

    from retrieval.search import MOVIE_COLUMNS, filter_sql, hit_from_row

    ensure_storage(engine, profile)
    s = _source(profile)
    where, params = filter_sql(filters)
    with engine.connect() as conn:
        plan = _plan(conn, profile, k, where, params)
        apply_plan(conn, plan)
        statement = text(
            f"SELECT {MOVIE_COLUMNS}, {s.vec} <=> :qvec AS distance FROM movies m{s.join} "
            f"WHERE {s.vec} IS NOT NULL{where} ORDER BY distance{plan.order_tail()} LIMIT :k"
        ).bindparams(bindparam("qvec", type_=VECTOR(profile.dim)))
        rows = conn.execute(statement, {"qvec": list(qvec), "k": int(k), **params}).all()
    return [hit_from_row(r, score=1.0 - r.distance, distance=r.distance) for r in rows]


def status(engine: Engine | None, home: Path) -> Iterator[dict[str, Any]]:
    """One line per profile for `profiles list`: installed, and vectors stored out of the catalog."""
    for p in PROFILES.values():
        line: dict[str, Any] = {
            "name": p.name, "model": p.model_name, "recipe": p.recipe, "dim": p.dim,
            "default": p.default, "installed": installed(p, home), "description": p.description,
        }
        if engine is not None:
            line["embedded"], line["movies"] = counts(engine, p)
        yield line
