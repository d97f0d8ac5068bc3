"""The plan compiler: exact SQL text and parameters for every filter and intent (no database)."""

from __future__ import annotations

import pytest

from retrieval.compile import PLAN_ROW_CAP, SEARCH_K, PlanError, compile_plan, readable_sql
from retrieval.plan import Filters, Group, Names, QueryPlan, Range, Sort

COLS = (
    "m.id, m.title, m.year, m.genres, m.director, m.actors, m.summary, m.duration_min, "
    "m.avg_rating, m.num_ratings, m.poster_url, m.country, m.language, m.writers"
)
HEAD = f"SELECT {COLS}\nFROM movies m"
DEFAULT_TAIL = "ORDER BY m.year NULLS LAST, lower(m.title), m.id\nLIMIT :cap"
VEC = [0.5] * 384


def listed(**filters: object) -> tuple[str, dict[str, object]]:
    c = compile_plan(QueryPlan(intent="list", filters=Filters(**filters)))  # type: ignore[arg-type]
    assert (c.kind, c.ranked, c.metric) == ("rows", False, None)
    return c.sql, c.params


def test_whole_catalog_list() -> None:
    assert listed() == (f"{HEAD}\n{DEFAULT_TAIL}", {"cap": PLAN_ROW_CAP})


@pytest.mark.parametrize(("field", "rng", "where", "params"), [
    ("year", Range(min=1990, max=1999), "m.year >= :year_min\n  AND m.year <= :year_max",
     {"year_min": 1990, "year_max": 1999}),
    ("duration_min", Range(max=89), "m.duration_min <= :duration_min_max", {"duration_min_max": 89}),
    ("avg_rating", Range(min=4), "m.avg_rating >= :avg_rating_min", {"avg_rating_min": 4.0}),
    ("avg_rating", Range(min=4.3, min_open=True), "m.avg_rating > :avg_rating_min", {"avg_rating_min": 4.3}),
    ("avg_rating", Range(max=2.5, max_open=True), "m.avg_rating < :avg_rating_max", {"avg_rating_max": 2.5}),
    ("num_ratings", Range(min=100.0), "m.num_ratings >= :num_ratings_min", {"num_ratings_min": 100}),
])
def test_ranges_are_inclusive(field: str, rng: Range, where: str, params: dict[str, object]) -> None:
    sql, got = listed(**{field: rng})
    assert sql == f"{HEAD}\nWHERE {where}\n{DEFAULT_TAIL}"
    assert got == {**params, "cap": PLAN_ROW_CAP}
    assert all(type(v) is type(params[k]) for k, v in got.items() if k in params)


@pytest.mark.parametrize(("field", "expr"), [
    ("genres", "movie_rag_fold_array(m.genres)"),
    ("directors", "movie_rag_fold_list(m.director)"),
    ("actors", "movie_rag_fold_array(m.actors)"),
    ("writers", "movie_rag_fold_array(m.writers)"),
    ("people", "movie_rag_fold_people(m.director, m.writers, m.actors)"),
    ("countries", "movie_rag_fold_list(m.country)"),
    ("languages", "movie_rag_fold_list(m.language)"),
])
def test_names_all_any_none(field: str, expr: str) -> None:
    names = Names(all_of=("A", "B"), any_of=("C",), none_of=("D", "E"))
    sql, params = listed(**{field: names})
    assert sql == (
        f"{HEAD}\nWHERE {expr} @> movie_rag_fold_array(CAST(:{field}_all AS text[]))\n"
        f"  AND {expr} && movie_rag_fold_array(CAST(:{field}_any AS text[]))\n"
        f"  AND (cardinality({expr}) > 0 AND NOT ({expr} && movie_rag_fold_array(CAST(:{field}_none AS text[]))))\n"
        f"{DEFAULT_TAIL}"
    )
    assert params == {f"{field}_all": ["A", "B"], f"{field}_any": ["C"], f"{field}_none": ["D", "E"],
                      "cap": PLAN_ROW_CAP}


def test_title_and_exclusions() -> None:
    sql, params = listed(title="God's", exclude_ids=(7, 9))
    assert sql == (
        f"{HEAD}\nWHERE movie_rag_fold(m.title) LIKE movie_rag_contains(:title)\n"
        f"  AND m.id <> ALL(CAST(:exclude_ids AS int[]))\n{DEFAULT_TAIL}"
    )
    assert params == {"title": "God's", "exclude_ids": [7, 9], "cap": PLAN_ROW_CAP}


def test_either_groups_nest() -> None:
    sql, params = listed(
        genres=Names(all_of=("Drama",)),
        either=(
            Filters(year=Range(max=1979), genres=Names(all_of=("Comedy",))),
            Filters(either=(Filters(duration_min=Range(min=180)), Filters())),
        ),
    )
    assert sql == (
        f"{HEAD}\nWHERE movie_rag_fold_array(m.genres) @> movie_rag_fold_array(CAST(:genres_all AS text[]))\n"
        "  AND ((m.year <= :or0_year_max AND movie_rag_fold_array(m.genres) @> "
        "movie_rag_fold_array(CAST(:or0_genres_all AS text[]))) OR (m.duration_min >= :or1_or0_duration_min_min "
        f"OR TRUE))\n{DEFAULT_TAIL}"
    )
    assert params == {"genres_all": ["Drama"], "or0_year_max": 1979, "or0_genres_all": ["Comedy"],
                      "or1_or0_duration_min_min": 180, "cap": PLAN_ROW_CAP}


def test_follow_up_scope() -> None:
    plan = QueryPlan(intent="list", scope="previous", filters=Filters(year=Range(min=1980)))
    c = compile_plan(plan, ids=[3, 1, 2], cap=50)
    assert c.sql == (  # the previous answer's order is kept
        f"{HEAD}\nWHERE m.year >= :year_min\n  AND m.id = ANY(CAST(:ids AS int[]))\n"
        "ORDER BY array_position(CAST(:ids AS int[]), m.id), m.id\nLIMIT :cap"
    )
    assert c.params == {"year_min": 1980, "ids": [3, 1, 2], "cap": 50}
    assert c.count_sql == "SELECT count(*) AS total\nFROM movies m\nWHERE m.year >= :year_min\n  AND m.id = ANY(CAST(:ids AS int[]))"
    assert (c.bound, c.count_params()) == (50, {"year_min": 1980, "ids": [3, 1, 2]})
    with pytest.raises(PlanError, match="previous answer's ids"):
        compile_plan(plan)
    # ids narrow a catalog-scoped plan too (the caller decided), and an empty scope finds nothing.
    assert compile_plan(QueryPlan(intent="count"), ids=[]).params == {"ids": []}


def test_count() -> None:
    plan = QueryPlan(intent="count", filters=Filters(actors=Names(all_of=("Tom Hanks",))), semantic="war")
    c = compile_plan(plan)
    assert (c.kind, c.count_sql, c.sql, c.params) == (
        "count", None,
        "SELECT count(*) AS total\nFROM movies m\n"
        "WHERE movie_rag_fold_array(m.actors) @> movie_rag_fold_array(CAST(:actors_all AS text[]))",
        {"actors_all": ["Tom Hanks"]},
    )
    assert c.notes == ("the count does not apply 'war' (a meaning, not a condition)",)
    assert compile_plan(QueryPlan(intent="count")).sql == "SELECT count(*) AS total\nFROM movies m"


def test_superlative_keeps_ties() -> None:
    c = compile_plan(QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True)))
    assert c.sql == (
        f"SELECT top.*\nFROM ({HEAD}\nWHERE m.duration_min IS NOT NULL\n"
        "  ORDER BY m.duration_min DESC NULLS LAST\n  FETCH FIRST :limit ROWS WITH TIES) AS top\n"
        "ORDER BY top.duration_min DESC NULLS LAST, top.id\nLIMIT :cap"
    )
    assert c.params == {"limit": 1, "cap": PLAN_ROW_CAP}
    assert (c.bound, c.count_sql) == (1, "SELECT count(*) AS total\nFROM movies m\nWHERE m.duration_min IS NOT NULL")
    assert c.count_params() == {}
    assert c.readable().endswith("FETCH FIRST 1 ROWS WITH TIES) AS top\n"
                                 "ORDER BY top.duration_min DESC NULLS LAST, top.id\nLIMIT 500")


def test_limit_without_ties_and_title_sort() -> None:
    plan = QueryPlan(intent="list", sort=Sort(key="title"), limit=5, ties=False,
                     filters=Filters(genres=Names(any_of=("Horror",))))
    c = compile_plan(plan, cap=3)
    assert c.sql == (
        f"{HEAD}\nWHERE movie_rag_fold_array(m.genres) && movie_rag_fold_array(CAST(:genres_any AS text[]))\n"
        "  AND lower(m.title) IS NOT NULL\nORDER BY lower(m.title) NULLS LAST, m.id\nLIMIT :limit"
    )
    assert c.params == {"genres_any": ["Horror"], "limit": 3}


def test_sort_without_limit_keeps_nulls_last() -> None:
    c = compile_plan(QueryPlan(intent="list", sort=Sort(key="avg_rating", desc=True)))
    assert c.sql == f"{HEAD}\nORDER BY m.avg_rating DESC NULLS LAST, m.id\nLIMIT :cap"


def test_superlative_needs_a_sort_key() -> None:
    with pytest.raises(PlanError, match="sort key"):
        compile_plan(QueryPlan(intent="superlative"))


@pytest.mark.parametrize(("metric", "distance"), [
    ("cosine", "m.embedding <=> CAST(:qvec AS vector)"),
    ("l2", "m.embedding <-> CAST(:qvec AS vector)"),
    ("inner", "m.embedding <#> CAST(:qvec AS vector)"),
    ("l1", "m.embedding <+> CAST(:qvec AS vector)"),
    ("hamming", "binary_quantize(m.embedding)::bit(384) <~> binary_quantize(CAST(:qvec AS vector))::bit(384)"),
    ("jaccard", "binary_quantize(m.embedding)::bit(384) <%> binary_quantize(CAST(:qvec AS vector))::bit(384)"),
])
def test_search_ranks_by_distance(metric: str, distance: str) -> None:
    plan = QueryPlan(intent="search", semantic="a heist", filters=Filters(year=Range(min=1990)))
    c = compile_plan(plan, vector=VEC, metric=metric)  # type: ignore[arg-type]
    assert c.sql == (
        f"SELECT {COLS}, {distance} AS distance\nFROM movies m\n"
        "WHERE m.year >= :year_min\n  AND m.embedding IS NOT NULL\nORDER BY distance, m.id\nLIMIT :limit"
    )
    assert c.params == {"year_min": 1990, "qvec": VEC, "limit": SEARCH_K}
    assert (c.ranked, c.metric, c.phrases) == (True, metric, {"qvec": "a heist"})
    assert "embed('a heist')" in c.readable() and "0.5" not in c.readable()


def test_search_without_a_vector_says_so() -> None:
    c = compile_plan(QueryPlan(intent="search", semantic="a heist", limit=4))
    assert c.sql == f"{HEAD}\n{DEFAULT_TAIL.replace(':cap', ':limit')}"
    assert c.params == {"limit": 4}
    assert c.notes == ("not ordered by closeness to 'a heist' (no query embedding)",)
    with pytest.raises(PlanError, match="384"):
        compile_plan(QueryPlan(intent="search", semantic="x"), vector=[1.0, 2.0])


MEAN = "(SELECT avg(a.embedding) FROM movies a WHERE a.id = ANY(CAST(:anchors AS int[])))"


@pytest.mark.parametrize("metric, distance", [
    ("cosine", "v.embedding <=> CAST(:qvec AS vector)"),
    ("hamming", "v.bits <~> binary_quantize(CAST(:qvec AS vector))::bit(256)"),
])
def test_a_profile_ranks_and_orders_by_its_own_table(metric: str, distance: str) -> None:
    join = "FROM movies m LEFT JOIN profile_wordllama v ON v.movie_id = m.id"
    vec = [0.5] * 256
    search = compile_plan(QueryPlan(intent="search", semantic="a heist"), vector=vec, metric=metric,  # type: ignore[arg-type]
                          profile="wordllama")
    assert search.sql == (f"SELECT {COLS}, {distance} AS distance\n{join}\nWHERE v.embedding IS NOT NULL\n"
                          "ORDER BY distance, m.id\nLIMIT :limit")
    # a set ordered by the phrase keeps the films the profile has no vector for (last)
    listed = compile_plan(QueryPlan(intent="list", semantic="a heist", filters=Filters(year=Range(min=1990))),
                          vector=vec, metric=metric, profile="wordllama")  # type: ignore[arg-type]
    assert listed.sql.startswith(f"SELECT {COLS}, {distance} AS distance\n{join}\nWHERE m.year >= :year_min\n")
    assert listed.count_sql == "SELECT count(*) AS total\nFROM movies m\nWHERE m.year >= :year_min"
    similar = compile_plan(QueryPlan(intent="similar", anchors=(4,), filters=Filters(exclude_ids=(4,))),
                           metric=metric, profile="wordllama")  # type: ignore[arg-type]
    mean = "(SELECT avg(a.embedding) FROM profile_wordllama a WHERE a.movie_id = ANY(CAST(:anchors AS int[])))"
    assert f"{mean} IS NOT NULL" in similar.sql and similar.sql.count("m.id <> ALL") == 1
    # without a phrase or anchors no vector is read, so nothing is joined
    assert "profile_" not in compile_plan(QueryPlan(intent="list"), profile="wordllama").sql
    with pytest.raises(PlanError, match="256"):
        compile_plan(QueryPlan(intent="search", semantic="x"), vector=VEC, profile="wordllama")


def test_similar_to_the_anchors_mean() -> None:
    plan = QueryPlan(intent="similar", anchors=(4, 8), limit=5, filters=Filters(genres=Names(all_of=("Drama",))))
    c = compile_plan(plan, metric="l2")
    inner = (
        f"SELECT {COLS}, m.embedding <-> {MEAN} AS distance\nFROM movies m\n"
        "WHERE movie_rag_fold_array(m.genres) @> movie_rag_fold_array(CAST(:genres_all AS text[]))\n"
        f"  AND m.id <> ALL(CAST(:anchors AS int[]))\n  AND {MEAN} IS NOT NULL\n"
        "  AND m.embedding IS NOT NULL\nORDER BY distance, m.id\nLIMIT :limit"
    )
    assert c.sql == inner
    assert c.params == {"genres_all": ["Drama"], "anchors": [4, 8], "limit": 5}
    assert (c.bound, c.count_sql) == (5, None)
    sorted_plan = plan.model_copy(update={"sort": Sort(key="year", desc=True)})
    assert compile_plan(sorted_plan, metric="l2").sql == (
        f"SELECT near.*\nFROM ({inner}) AS near\nORDER BY near.year DESC NULLS LAST, near.distance, near.id"
    )
    with pytest.raises(PlanError, match="anchors"):
        compile_plan(QueryPlan(intent="similar"))


def test_fact_keeps_the_order_named() -> None:
    c = compile_plan(QueryPlan(intent="fact", anchors=(9, 2), fields=("director",)))
    assert c.sql == (
        f"{HEAD}\nWHERE m.id = ANY(CAST(:anchors AS int[]))\n"
        "ORDER BY array_position(CAST(:anchors AS int[]), m.id), m.id\nLIMIT :cap"
    )
    assert c.params == {"anchors": [9, 2], "cap": PLAN_ROW_CAP}


def test_list_ordered_by_meaning_stays_a_set() -> None:
    plan = QueryPlan(intent="list", filters=Filters(directors=Names(any_of=("X",))), semantic="war")
    c = compile_plan(plan, vector=VEC)
    assert c.sql == (
        f"SELECT {COLS}, m.embedding <=> CAST(:qvec AS vector) AS distance\n"
        "FROM movies m\nWHERE movie_rag_fold_list(m.director) && movie_rag_fold_array(CAST(:directors_any AS text[]))\n"
        "ORDER BY distance, m.id\nLIMIT :cap"
    )
    assert (c.ranked, c.metric) == (False, "cosine")


def test_recommend_without_titles_takes_the_best_rated() -> None:
    c = compile_plan(QueryPlan(intent="recommend", filters=Filters(genres=Names(all_of=("Comedy",)))), k=3)
    assert c.sql == (
        f"{HEAD}\nWHERE movie_rag_fold_array(m.genres) @> movie_rag_fold_array(CAST(:genres_all AS text[]))\n"
        "ORDER BY m.avg_rating DESC NULLS LAST, m.num_ratings DESC NULLS LAST, m.id\nLIMIT :limit"
    )
    assert (c.params["limit"], c.ranked) == (3, True)
    assert compile_plan(QueryPlan(intent="recommend", anchors=(5,))).params["anchors"] == [5]


@pytest.mark.parametrize("intent", ["aggregate", "chitchat"])
def test_intents_without_a_plan(intent: str) -> None:
    with pytest.raises(PlanError, match=intent):
        compile_plan(QueryPlan(intent=intent))  # type: ignore[arg-type]


def test_readable_sql_writes_values_in() -> None:
    sql = "WHERE a = :a AND b = ANY(CAST(:b AS text[])) AND c = ANY(CAST(:c AS int[])) AND x::int = :n AND e = :e"
    params = {"a": "O'Brien", "b": ["Tom Hanks", "it's"], "c": [1, 2], "n": 2.5, "e": None}
    assert readable_sql(sql, params) == (
        "WHERE a = 'O''Brien' AND b = ANY(ARRAY['Tom Hanks', 'it''s']) AND c = ANY(ARRAY[1, 2]) "
        "AND x::int = 2.5 AND e = NULL"
    )
    assert readable_sql("v <=> CAST(:qvec AS vector)", {"qvec": VEC}, {"qvec": "a 'heist'"}) == (
        "v <=> embed('a ''heist''')"
    )
    assert readable_sql("x = ANY(CAST(:ids AS int[]))", {"ids": []}) == "x = ANY(CAST(ARRAY[] AS int[]))"


def test_follow_up_by_meaning_orders_by_distance() -> None:
    plan = QueryPlan(intent="list", scope="previous", semantic="aliens")
    c = compile_plan(plan, ids=[5, 6], vector=VEC)
    assert c.sql == (
        f"SELECT {COLS}, m.embedding <=> CAST(:qvec AS vector) AS distance\nFROM movies m\n"
        "WHERE m.id = ANY(CAST(:ids AS int[]))\nORDER BY distance, m.id\nLIMIT :cap"
    )


def test_fact_about_a_described_film_is_ranked() -> None:
    plan = QueryPlan(intent="fact", fields=("director",), semantic="a shark attacks a beach", limit=1)
    c = compile_plan(plan, vector=VEC)
    assert c.sql == (
        f"SELECT {COLS}, m.embedding <=> CAST(:qvec AS vector) AS distance\nFROM movies m\n"
        "WHERE m.embedding IS NOT NULL\nORDER BY distance, m.id\nLIMIT :limit"
    )
    assert (c.params["limit"], c.ranked, c.count_sql) == (1, True, None)


def test_superlative_by_meaning_sorts_the_nearest_pool() -> None:
    plan = QueryPlan(intent="superlative", sort=Sort(key="duration_min", desc=True), semantic="space travel")
    c = compile_plan(plan, vector=VEC)
    assert c.sql == (
        f"SELECT top.*\nFROM (SELECT m.*\nFROM (SELECT {COLS}, m.embedding <=> CAST(:qvec AS vector) AS distance\n"
        "  FROM movies m\n  WHERE m.duration_min IS NOT NULL\n    AND m.embedding IS NOT NULL\n"
        "  ORDER BY distance, m.id\n  LIMIT :pool) AS m\n"
        "  ORDER BY m.duration_min DESC NULLS LAST, distance\n  FETCH FIRST :limit ROWS WITH TIES) AS top\n"
        "ORDER BY top.duration_min DESC NULLS LAST, top.distance, top.id\nLIMIT :cap"
    )
    assert c.params == {"qvec": VEC, "pool": 25, "limit": 1, "cap": PLAN_ROW_CAP}
    assert (c.ranked, c.count_sql, c.notes) == (True, None, ())  # the answer names the pool
    # With a condition the set is exact and the phrase only breaks ties.
    filtered = plan.model_copy(update={"filters": Filters(genres=Names(all_of=("Drama",)))})
    assert "LIMIT :pool" not in compile_plan(filtered, vector=VEC).sql


def test_a_group_plan_is_one_row_per_group() -> None:
    plan = QueryPlan(intent="aggregate", group=Group(by="director", desc=True, top=1),
                     filters=Filters(genres=Names(all_of=("Western",))))
    c = compile_plan(plan)
    assert (c.kind, c.count_sql, c.bound) == ("groups", None, 1)
    assert c.sql == (
        "SELECT top.*\nFROM (SELECT g.name AS name, count(DISTINCT m.id) AS films, count(DISTINCT m.id) AS value, "
        "array_agg(DISTINCT m.id ORDER BY m.id) AS ids\n"
        "FROM movies m CROSS JOIN LATERAL (SELECT btrim(x) FROM regexp_split_to_table(m.director, ',') AS x) AS g(name)\n"
        "WHERE movie_rag_fold_array(m.genres) @> movie_rag_fold_array(CAST(:genres_all AS text[]))\n"
        "  AND g.name IS NOT NULL\n  AND g.name <> ''\nGROUP BY g.name\n"
        "  ORDER BY value DESC\n  FETCH FIRST :top ROWS WITH TIES) AS top\nORDER BY value DESC, top.name\nLIMIT :cap"
    )
    # every decade in time order, an average over the films that record the column, a floor on films
    decades = compile_plan(QueryPlan(intent="aggregate", group=Group(by="decade")))
    assert decades.sql.endswith("GROUP BY g.name\nORDER BY g.name\nLIMIT :cap") and decades.count_sql is not None
    avg = compile_plan(QueryPlan(intent="aggregate", group=Group(by="actor", measure="avg", field="avg_rating",
                                                                desc=False, top=3, min_films=3), semantic="war"))
    assert "avg(m.avg_rating) AS value" in avg.sql and "AND m.avg_rating IS NOT NULL" in avg.sql
    assert "HAVING count(DISTINCT m.id) >= :min_films" in avg.sql and "ORDER BY value\n" in avg.sql
    assert avg.notes == ("the figures do not apply 'war' (a meaning, not a condition)",)
    with pytest.raises(ValueError, match="count takes no field"):
        Group(by="genre", field="year")
    with pytest.raises(PlanError, match="no query plan"):
        compile_plan(QueryPlan(intent="aggregate"))
