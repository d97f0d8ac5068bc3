"""retrieval.indexing: the vector search plan chosen from the catalog's row count."""

from __future__ import annotations

import pytest

from retrieval.indexing import (
    EF_SEARCH_BY_ROWS,
    EF_SEARCH_MAX,
    EXACT_MAX_ROWS,
    VectorPlan,
    base_ef_search,
    vector_plan,
)


def test_small_catalogs_scan_exactly_and_set_nothing():
    for rows in (1, 631, 9_742, EXACT_MAX_ROWS):
        plan = vector_plan(rows, 10, filtered=True)
        assert plan == VectorPlan(method="exact")
        assert plan.settings_sql() == []


def test_big_catalogs_use_hnsw_with_the_measured_ef_search():
    rows, ef = EF_SEARCH_BY_ROWS[0]
    assert vector_plan(rows, 10) == VectorPlan(method="hnsw", ef_search=ef)
    assert vector_plan(EXACT_MAX_ROWS + 1, 10).ef_search == ef
    assert vector_plan(rows, 10).settings_sql() == [f"SET LOCAL hnsw.ef_search = {ef}"]


def test_filtered_searches_add_the_strict_iterative_scan():
    plan = vector_plan(500_000, 10, filtered=True)
    assert plan.iterative_scan == "strict_order"
    assert plan.settings_sql()[-1] == "SET LOCAL hnsw.iterative_scan = strict_order"


def test_ef_search_grows_with_k_and_never_passes_pgvectors_bound():
    rows, ef = EF_SEARCH_BY_ROWS[0]
    assert vector_plan(rows, 20).ef_search == min(EF_SEARCH_MAX, 2 * ef)
    assert vector_plan(rows, 5).ef_search == ef  # fewer rows asked: still the measured minimum
    assert vector_plan(10**9, 200).ef_search == EF_SEARCH_MAX


@pytest.mark.parametrize("factor, doubling", [(10, 1), (100, 2)])
def test_past_the_largest_measured_size_ef_doubles_per_tenfold(factor, doubling):
    rows, ef = EF_SEARCH_BY_ROWS[-1]
    assert base_ef_search(rows * factor) == min(EF_SEARCH_MAX, ef * 2**doubling)
