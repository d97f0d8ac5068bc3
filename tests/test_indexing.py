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


@pytest.mark.integration
def test_a_catalog_past_the_exact_size_sets_the_plan_in_its_search_transaction(course_db, embedder, monkeypatch):
    """The course catalog (631 rows) treated as big: PgCatalog runs the plan's SET LOCALs."""
    from sqlalchemy import event

    from retrieval import indexing, search
    from retrieval.database import make_engine
    from retrieval.types import SearchFilters

    monkeypatch.setattr(indexing, "EXACT_MAX_ROWS", 100)
    monkeypatch.setattr(search, "EXACT_MAX_ROWS", 100)
    engine = make_engine(course_db)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    catalog = search.PgCatalog(engine, embedder)
    hits = catalog.similar("Finding Nemo", k=5)
    assert len(hits) == 5
    rows = catalog.count()
    expected = vector_plan(rows, 5).settings_sql()
    assert expected == [f"SET LOCAL hnsw.ef_search = {EF_SEARCH_BY_ROWS[0][1]}"]
    assert [s for s in seen if s.startswith("SET LOCAL")] == expected
    seen.clear()
    catalog.similar("Finding Nemo", k=5, filters=SearchFilters(year_min=1990))
    assert [s for s in seen if s.startswith("SET LOCAL")] == vector_plan(rows, 5, filtered=True).settings_sql()
    engine.dispose()
