"""How a vector search runs at a given catalog size: an exact scan or HNSW, and its ef_search.

The numbers come from `movie-rag bench --section scale` (bench/scale.md; README "Scaling"):
measured on 384-d MiniLM-structured vectors, in one run per size, recall@10 against exact SQL.

- Up to `EXACT_MAX_ROWS` rows an exact scan costs a few tens of ms at most and is reproducible
  (ties broken by id), so no approximate index is consulted.
- Above it, HNSW (m = 16, ef_construction = 64: the schema's `movies_embedding_hnsw`) with the
  smallest measured `hnsw.ef_search` whose recall@10 reached `TARGET_RECALL`, scaled up for
  k > 10; filtered searches add `hnsw.iterative_scan = strict_order` (without it a ~10 % filter
  returned about half the rows asked for). Sizes beyond the largest measured use its value
  doubled per tenfold growth (HNSW's search cost grows roughly with log n), capped at 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

EXACT_MAX_ROWS = 20_000
"""Exact scans up to here: measured 38 ms p50 at 20,000 rows on 2 shared cores (bench/scale.md)."""
TARGET_RECALL = 0.98

EF_SEARCH_BY_ROWS: tuple[tuple[int, int], ...] = (
    (100_000, 320),
)
"""(catalog rows up to, ef_search) measured for recall@10 >= TARGET_RECALL at k = 10."""
EF_SEARCH_MAX = 1000
"""pgvector's upper bound for hnsw.ef_search."""


@dataclass(frozen=True)
class VectorPlan:
    """How one vector search should run."""

    method: Literal["exact", "hnsw"]
    ef_search: int | None = None
    """`SET LOCAL hnsw.ef_search` (None: exact, nothing to set)."""
    iterative_scan: Literal["strict_order"] | None = None
    """`SET LOCAL hnsw.iterative_scan` for filtered searches (None: leave it off)."""

    def settings_sql(self) -> list[str]:
        """The SET LOCAL statements (to run inside the search's transaction)."""
        out = []
        if self.ef_search is not None:
            out.append(f"SET LOCAL hnsw.ef_search = {int(self.ef_search)}")
        if self.iterative_scan is not None:
            out.append(f"SET LOCAL hnsw.iterative_scan = {self.iterative_scan}")
        return out


def base_ef_search(rows: int) -> int:
    """ef_search for k = 10 at `rows` rows: the measured step, extrapolated past the last one."""
    for limit, ef in EF_SEARCH_BY_ROWS:
        if rows <= limit:
            return ef
    last_rows, last_ef = EF_SEARCH_BY_ROWS[-1]
    growth = math.log10(rows / last_rows)
    return min(EF_SEARCH_MAX, math.ceil(last_ef * 2**growth))


def vector_plan(rows: int, k: int = 10, *, filtered: bool = False) -> VectorPlan:
    """The plan for a k-nearest search over a catalog of `rows` rows (`filtered`: a WHERE
    narrows the rows besides the ORDER BY distance)."""
    if rows <= EXACT_MAX_ROWS:
        return VectorPlan(method="exact")
    ef = base_ef_search(rows) * max(1.0, k / 10)
    ef_search = int(min(EF_SEARCH_MAX, max(k, math.ceil(ef))))
    return VectorPlan(method="hnsw", ef_search=ef_search,
                      iterative_scan="strict_order" if filtered else None)
