"""retrieval.indexing: the one place that decides how a vector search runs — exact or HNSW, its
ef_search and iterative scan — from the table's size and the filter's estimated selectivity; and
on the real embedded server, that every vector query runs the plan it was given (EXPLAIN)."""

from __future__ import annotations

import math

import pytest

from retrieval.indexing import (
    EF_SEARCH_BY_ROWS,
    EF_SEARCH_MAX,
    EXACT_MAX_ROWS,
    MAX_SCAN_TUPLES_DEFAULT,
    VectorPlan,
    base_ef_search,
    vector_plan,
)

MOVIES_EF = EF_SEARCH_BY_ROWS["movies"][0]


def test_small_catalogs_scan_exactly_and_keep_the_planner_off_the_index():
    for rows in (1, 631, 9_742, EXACT_MAX_ROWS):
        plan = vector_plan(rows, 10, filtered=True)
        assert plan.method == "exact"
        # An id tie-break alone is not enough: from 10,000 rows PostgreSQL serves
        # ORDER BY distance, id with HNSW + Incremental Sort.
        assert plan.settings_sql() == ["SET LOCAL enable_indexscan = off"]
        assert plan.order_tail() == ", m.id"


def test_big_catalogs_use_hnsw_with_the_measured_ef_search():
    rows, ef = MOVIES_EF
    assert vector_plan(rows, 10) == VectorPlan(method="hnsw", ef_search=ef, rows=rows)
    assert vector_plan(EXACT_MAX_ROWS + 1, 10).ef_search == ef
    assert vector_plan(rows, 10).settings_sql() == [f"SET LOCAL hnsw.ef_search = {ef}"]
    assert vector_plan(rows, 10).order_tail() == ""


def test_a_selective_filter_on_a_big_catalog_is_exact():
    plan = vector_plan(1_000_000, 10, filtered=True, matching=EXACT_MAX_ROWS)
    assert plan.method == "exact" and plan.matching == EXACT_MAX_ROWS


def test_a_broad_filter_gets_iterative_scan_and_an_ef_search_deepened_by_its_share():
    rows = 1_000_000
    plan = vector_plan(rows, 10, filtered=True, matching=250_000)  # keeps a quarter
    expected_ef = min(EF_SEARCH_MAX, math.ceil(base_ef_search(rows) / math.sqrt(0.25)))
    assert plan.ef_search == expected_ef
    assert plan.iterative_scan == "strict_order"
    assert plan.max_scan_tuples == MAX_SCAN_TUPLES_DEFAULT
    assert plan.settings_sql() == [
        f"SET LOCAL hnsw.ef_search = {expected_ef}", "SET LOCAL hnsw.iterative_scan = strict_order",
        f"SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES_DEFAULT}",
    ]
    # A 3 % filter over 1M rows (30,000 rows: past the exact size) searches as deep as allowed
    # and may scan far enough to find k rows that pass.
    narrow = vector_plan(rows, 50, filtered=True, matching=30_000)
    assert narrow.ef_search == EF_SEARCH_MAX
    assert narrow.max_scan_tuples == math.ceil(20 * 50 / 0.03)


def test_ef_search_grows_with_k_and_never_passes_pgvectors_bound():
    rows, ef = MOVIES_EF
    assert vector_plan(rows, 20).ef_search == min(EF_SEARCH_MAX, 2 * ef)
    assert vector_plan(rows, 5).ef_search == ef  # fewer rows asked: still the measured minimum
    assert vector_plan(10**9, 200).ef_search == EF_SEARCH_MAX


@pytest.mark.parametrize("factor, doubling", [(10, 1), (100, 2)])
def test_past_the_largest_measured_size_ef_doubles_per_tenfold(factor, doubling):
    rows, ef = MOVIES_EF
    assert base_ef_search(rows * factor) == min(EF_SEARCH_MAX, ef * 2**doubling)


# --- on the real server -------------------------------------------------------------------------


def _explain(conn, statement: str, params) -> str:
    """EXPLAIN of a captured driver-level statement with its captured parameters."""
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params).all())


@pytest.fixture
def captured(course_db):
    """An engine on the course catalog recording every (statement, parameters) it runs."""
    from sqlalchemy import event

    from retrieval.database import make_engine

    engine = make_engine(course_db)
    seen: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, params, ctx, many: seen.append((stmt, params)))
    yield engine, seen
    engine.dispose()


def _vector_statement(seen, needle: str = "<=>"):
    return next((s, p) for s, p in reversed(seen) if needle in s and not s.startswith("EXPLAIN"))


def _settings(seen) -> list[str]:
    return [s for s, _ in seen if s.startswith("SET LOCAL") and "TO DEFAULT" not in s]


def _run_explained(engine, seen, plan: VectorPlan, needle: str = "<=>") -> str:
    """EXPLAIN the last vector statement under the plan's settings, as it ran. For an HNSW plan,
    sequential and bitmap scans are disabled as the scale bench does: on 631 rows the planner
    prefers them on cost, and what is checked is that the statement's shape lets HNSW serve it."""
    from retrieval.indexing import planned

    statement, params = _vector_statement(seen, needle)
    with engine.connect() as conn, planned(conn, plan):
        if plan.method == "hnsw":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        return _explain(conn, statement, params)


@pytest.mark.integration
def test_the_course_catalog_is_exact_and_never_touches_hnsw(captured, embedder):
    from retrieval.search import PgCatalog

    engine, seen = captured
    catalog = PgCatalog(engine, embedder)
    assert len(catalog.similar("Finding Nemo", k=5)) == 5
    assert _settings(seen) == ["SET LOCAL enable_indexscan = off"]
    statement, _ = _vector_statement(seen)
    assert "ORDER BY distance, m.id LIMIT" in statement
    explained = _run_explained(engine, seen, vector_plan(catalog.count(), 5))
    assert "movies_embedding_hnsw" not in explained and "Seq Scan on movies" in explained


@pytest.mark.integration
def test_past_the_exact_size_pgcatalog_runs_hnsw_with_the_plans_settings(captured, embedder, monkeypatch):
    """The course catalog (631 rows) treated as big: the index serves the query."""
    from retrieval import indexing
    from retrieval.search import PgCatalog
    from retrieval.types import SearchFilters

    monkeypatch.setattr(indexing, "EXACT_MAX_ROWS", 100)
    engine, seen = captured
    catalog = PgCatalog(engine, embedder)
    rows = catalog.count()
    catalog.similar("Finding Nemo", k=5)
    plan = vector_plan(rows, 5)
    assert plan.method == "hnsw" and _settings(seen) == plan.settings_sql()
    statement, _ = _vector_statement(seen)
    assert "ORDER BY distance LIMIT" in statement
    assert "Index Scan using movies_embedding_hnsw" in _run_explained(engine, seen, plan)

    # A filter keeping most rows: HNSW with the iterative scan, ef_search from its share.
    seen.clear()
    hits = catalog.search("a fish looking for his son", mode="dense", k=5, filters=SearchFilters(year_min=1900))
    assert len(hits) == 5
    settings = _settings(seen)
    assert "SET LOCAL hnsw.iterative_scan = strict_order" in settings
    with engine.connect() as conn:
        matching = indexing.estimate_matching(conn, "movies m", "m.year >= :y", {"y": 1900})
    assert settings == vector_plan(rows, 5, filtered=True, matching=matching).settings_sql()


@pytest.mark.integration
def test_a_selective_filter_past_the_exact_size_is_an_exact_scan(captured, embedder, monkeypatch):
    from sqlalchemy import text

    from retrieval import indexing
    from retrieval.search import PgCatalog
    from retrieval.types import SearchFilters

    engine, seen = captured
    with engine.connect() as conn:
        years = conn.execute(text("SELECT year, count(*) FROM movies WHERE year IS NOT NULL GROUP BY year ORDER BY year")).all()
    # The earliest years holding at most 20 films: a filter an exact scan serves.
    total, last = 0, years[0][0]
    for year, n in years:
        if total + n > 20:
            break
        total, last = total + n, year
    monkeypatch.setattr(indexing, "EXACT_MAX_ROWS", 100)
    hits = PgCatalog(engine, embedder).search("war", mode="dense", k=5, filters=SearchFilters(year_max=last))
    assert len(hits) == min(5, total)
    assert _settings(seen) == ["SET LOCAL enable_indexscan = off"]
    statement, _ = _vector_statement(seen)
    assert "ORDER BY distance, m.id LIMIT" in statement
    assert "movies_embedding_hnsw" not in _run_explained(engine, seen, VectorPlan(method="exact"))


@pytest.mark.integration
def test_compiled_query_plans_go_through_the_same_choice(captured, embedder, monkeypatch):
    """A ranked plan and a list ordered by a phrase, compiled from questions' plans."""
    from retrieval import indexing
    from retrieval.compile import run_plan
    from retrieval.plan import QueryPlan
    from retrieval.search import PgCatalog

    engine, seen = captured
    catalog = PgCatalog(engine, embedder)
    search = QueryPlan.model_validate({"intent": "search", "semantic": "a shark attacks a beach town"})
    listing = QueryPlan.model_validate(
        {"intent": "list", "semantic": "space", "limit": 10, "filters": {"year": {"min": 1900}}})

    # Real size: exact, with the planner kept off the index.
    result = run_plan(catalog, search)
    assert len(result.rows) == 10 and "ORDER BY distance, m.id" in result.sql
    assert _settings(seen) == ["SET LOCAL enable_indexscan = off"]
    assert "movies_embedding_hnsw" not in _run_explained(engine, seen, VectorPlan(method="exact"))

    monkeypatch.setattr(indexing, "EXACT_MAX_ROWS", 100)
    rows = catalog.count()
    for plan, k in ((search, 10), (listing, 10)):
        seen.clear()
        result = run_plan(catalog, plan)
        chosen = _settings(seen)
        if plan is search:
            assert chosen == vector_plan(rows, k).settings_sql()
        else:
            with engine.connect() as conn:
                matching = indexing.estimate_matching(conn, "movies m", "m.year >= :y", {"y": 1900})
            assert chosen == vector_plan(rows, k, filtered=True, matching=matching).settings_sql()
        assert "ORDER BY distance\n" in result.sql and "distance, m.id" not in result.sql
        vplan = VectorPlan(method="hnsw", ef_search=int(chosen[0].rsplit(" ", 1)[1]))
        assert "Index Scan using movies_embedding_hnsw" in _run_explained(engine, seen, vplan)
