"""How every vector search runs: an exact scan or HNSW, and its settings — the one place that decides.

The numbers come from `movie-rag bench --section scale` (bench/scale.md; README "Scaling"):
measured on 384-d MiniLM-structured vectors, in one run per size, recall@10 against exact SQL.

- Up to `EXACT_MAX_ROWS` rows an exact scan costs a few tens of ms at most and is reproducible
  (ties broken by id). Exact is *enforced* (`SET LOCAL enable_indexscan = off`): an id tie-break
  alone does not keep PostgreSQL off HNSW — from 10,000 rows up the planner serves
  `ORDER BY distance, id` with the index plus an Incremental Sort, approximate and unfiltered-tuned.
- A filtered search whose filter keeps at most `EXACT_MAX_ROWS` rows (the planner's own estimate,
  one EXPLAIN) is exact too: the filter's index fetches those rows and ranking them costs what an
  exact scan of a small catalog does (at 100,000 rows, a 10 % genre: exact 53 ms p50, recall 1.0;
  HNSW strict_order at ef_search 320 recall 0.89, at 1000 recall 0.96 in 183 ms).
- Otherwise HNSW (m = 16, ef_construction = 64: the schema's indexes) with the smallest measured
  `hnsw.ef_search` whose recall@10 reached `TARGET_RECALL`, scaled up for k > 10; sizes beyond the
  largest measured double it per tenfold growth (HNSW's cost grows roughly with log n). Filtered:
  `hnsw.iterative_scan = strict_order`, ef_search divided by the square root of the filter's share
  of rows (a filter keeping 10 % needs the true top 10 from ~10x deeper in the unfiltered order),
  and `hnsw.max_scan_tuples` raised so the scan may visit enough rows to find k that pass (a genre
  holding 38.5 % of 100,000 rows: ef_search 517, recall 0.97 in 88 ms; exact took 146 ms).
  Everything is capped at pgvector's bound of 1000.

Callers: `plan_search(conn, ...)` picks the plan (row count from pg_class, selectivity from
EXPLAIN), `apply(conn, plan)` runs its SET LOCALs in the caller's transaction, and
`planned(conn, plan)` applies them for a block and resets them after it;
`plan.order_tail(id)` is the id tie-break an exact plan orders by (HNSW needs ORDER BY distance
alone to serve the query). `retrieval.search`, `retrieval.compile`, `retrieval.profiles_store`,
`retrieval.recommend` and `retrieval.users` all go through here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, text

EXACT_MAX_ROWS = 20_000
"""Exact scans up to here (whole catalog, or rows a filter keeps): 49 ms p50 for the whole
catalog at 20,000 rows, 51-53 ms for the ~10,000-12,000 rows of a filter at 100,000 (2 shared
cores; docs/bench-scale.md)."""
TARGET_RECALL = 0.98

Kind = Literal["movies", "users_sparse"]

EF_SEARCH_BY_ROWS: dict[str, tuple[tuple[int, int], ...]] = {
    "movies": ((100_000, 320),),
    "users_sparse": ((100_000, 200),),
}
"""Per vector kind, (rows up to, ef_search) for recall@10 >= TARGET_RECALL at k = 10: movies
measured by the scale bench. Users' centred sparse ratings: 200 is the movies' figure scaled down
for the partial index's smaller graph; the recs bench at 100,000 synthetic users measured the k =
50 search it gives (ef_search 1000, the cap) at recall@50 0.91 against exact, in about half the
exact scan's time (README "Recommendations")."""
EF_SEARCH_MAX = 1000
"""pgvector's upper bound for hnsw.ef_search."""
MAX_SCAN_TUPLES_DEFAULT = 20_000
"""pgvector's default hnsw.max_scan_tuples (a filtered iterative scan stops after this many)."""
UNKNOWN_SHARE = 0.1
"""Share of rows a filter is assumed to keep when no estimate is available."""


@dataclass(frozen=True)
class VectorPlan:
    """How one vector search should run."""

    method: Literal["exact", "hnsw"]
    ef_search: int | None = None
    """`SET LOCAL hnsw.ef_search` (None: exact, nothing to set)."""
    iterative_scan: Literal["strict_order"] | None = None
    """`SET LOCAL hnsw.iterative_scan` for filtered searches (None: leave it off)."""
    max_scan_tuples: int | None = None
    """`SET LOCAL hnsw.max_scan_tuples` for filtered searches (None: pgvector's default)."""
    rows: int | None = None
    """Rows the search is over (the table), as the plan was chosen for."""
    matching: int | None = None
    """Rows the filter keeps, as the planner estimated (None: unfiltered or not estimated)."""

    def settings_sql(self) -> list[str]:
        """The SET LOCAL statements (to run inside the search's transaction)."""
        if self.method == "exact":
            return ["SET LOCAL enable_indexscan = off"]
        out = []
        if self.ef_search is not None:
            out.append(f"SET LOCAL hnsw.ef_search = {int(self.ef_search)}")
        if self.iterative_scan is not None:
            out.append(f"SET LOCAL hnsw.iterative_scan = {self.iterative_scan}")
        if self.max_scan_tuples is not None:
            out.append(f"SET LOCAL hnsw.max_scan_tuples = {int(self.max_scan_tuples)}")
        return out

    def order_tail(self, id_column: str = "m.id") -> str:
        """What follows the distance in ORDER BY: the id tie-break for exact (reproducible),
        nothing for HNSW (the index serves `ORDER BY distance` alone)."""
        return f", {id_column}" if self.method == "exact" else ""

    def describe(self) -> str:
        """One line for logs and "How I found this"."""
        if self.method == "exact":
            where = f" of ~{self.matching:,} filtered rows" if self.matching is not None else ""
            return f"exact scan{where}"
        parts = [f"HNSW ef_search {self.ef_search}"]
        if self.iterative_scan:
            parts.append(f"iterative scan {self.iterative_scan}")
        return ", ".join(parts)


EXACT = VectorPlan(method="exact")


def base_ef_search(rows: int, kind: Kind = "movies") -> int:
    """ef_search for k = 10 at `rows` rows: the measured step, extrapolated past the last one."""
    table = EF_SEARCH_BY_ROWS[kind]
    for limit, ef in table:
        if rows <= limit:
            return ef
    last_rows, last_ef = table[-1]
    growth = math.log10(rows / last_rows)
    return min(EF_SEARCH_MAX, math.ceil(last_ef * 2**growth))


def vector_plan(
    rows: int, k: int = 10, *, filtered: bool = False, matching: int | None = None, kind: Kind = "movies",
) -> VectorPlan:
    """The plan for a k-nearest search over a table of `rows` rows. `filtered`: a WHERE narrows
    the rows besides the ORDER BY distance; `matching`: how many rows it keeps (an estimate)."""
    if rows <= EXACT_MAX_ROWS:
        return VectorPlan(method="exact", rows=rows, matching=matching)
    if filtered and matching is not None and matching <= EXACT_MAX_ROWS:
        return VectorPlan(method="exact", rows=rows, matching=matching)
    ef = base_ef_search(rows, kind) * max(1.0, k / 10)
    if not filtered:
        return VectorPlan(method="hnsw", ef_search=_ef(ef, k), rows=rows)
    share = UNKNOWN_SHARE if matching is None else min(1.0, max(matching, 1) / rows)
    scan = max(MAX_SCAN_TUPLES_DEFAULT, math.ceil(20 * k / share))
    return VectorPlan(method="hnsw", ef_search=_ef(ef / math.sqrt(share), k), iterative_scan="strict_order",
                      max_scan_tuples=scan, rows=rows, matching=matching)


def _ef(ef: float, k: int) -> int:
    return int(min(EF_SEARCH_MAX, max(k, math.ceil(ef))))


# --- choosing on a live connection ------------------------------------------------------------

_ROWS_SQL = text(
    "SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass(:t)"
)


def table_rows(conn: Connection, table: str) -> int:
    """Rows in `table`: the planner's count (pg_class.reltuples, kept by ANALYZE/autovacuum),
    or a real count when the table was never analysed."""
    estimate = conn.execute(_ROWS_SQL, {"t": table}).scalar()
    if estimate is not None and estimate >= 0:
        return int(estimate)
    # `table` is a code constant (movies, users, a profile's table), never user input.
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def estimate_matching(conn: Connection, from_sql: str, where: str, params: Mapping[str, Any]) -> int:
    """The planner's estimate of the rows `WHERE where` keeps (one EXPLAIN: no rows are read)."""
    used = {k: v for k, v in params.items() if f":{k}" in where}
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {from_sql} WHERE {where}"), used).scalar_one()
    doc = json.loads(plan) if isinstance(plan, str) else plan
    return int(doc[0]["Plan"]["Plan Rows"])


def plan_search(
    conn: Connection, *, k: int, table: str = "movies", from_sql: str = "movies m", where: str = "",
    params: Mapping[str, Any] | None = None, rows: int | None = None, kind: Kind = "movies",
) -> VectorPlan:
    """The plan for a k-nearest search over `table` narrowed by `where` (SQL over `from_sql`'s
    aliases with `:name` parameters from `params`; empty: unfiltered). `rows`: the table's size
    when the caller knows it (saves a query)."""
    n = table_rows(conn, table) if rows is None else int(rows)
    where = where.strip()
    if where.upper().startswith("AND "):
        where = where[4:]
    matching = None
    if where and n > EXACT_MAX_ROWS:
        matching = estimate_matching(conn, from_sql, where, params or {})
    return vector_plan(n, k, filtered=bool(where), matching=matching, kind=kind)


def apply(conn: Connection, plan: VectorPlan) -> None:
    """Run the plan's SET LOCALs on `conn` (inside its transaction: they end with it)."""
    for statement in plan.settings_sql():
        conn.exec_driver_sql(statement)


def reset(conn: Connection, plan: VectorPlan) -> None:
    """Undo `apply` for the rest of the transaction (later statements in it, e.g. a count or a
    join on ratings, should not run with index scans off)."""
    for statement in plan.settings_sql():
        name = statement.removeprefix("SET LOCAL ").split(" = ")[0]
        conn.exec_driver_sql(f"SET LOCAL {name} TO DEFAULT")


@contextmanager
def planned(conn: Connection, plan: VectorPlan) -> Iterator[VectorPlan]:
    """`apply` for the statements inside the block, `reset` after it."""
    apply(conn, plan)
    try:
        yield plan
    finally:
        reset(conn, plan)
