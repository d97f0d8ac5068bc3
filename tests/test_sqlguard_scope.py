"""The guard judges names by what PostgreSQL resolves them to: CTE scope, column lineage, special
values; nesting gets a verdict, not a crash; plain SELECTs over movies get `id` so rows are
citable. (The corpus in tests/sql_corpus holds the bulk; these pin exact behaviour.)"""

from __future__ import annotations

import pytest

from retrieval.schema import Base
from retrieval.sqlguard import UnsafeSQL, check_sql, is_reserved_relation
from retrieval.sqlrules import MAX_BRACKET_DEPTH, MAX_BRACKETS, MAX_DEPTH


def _reason(sql: str) -> str:
    with pytest.raises(UnsafeSQL) as info:
        check_sql(sql)
    return str(info.value)


# -- CTE scope ------------------------------------------------------------------------------------


def test_a_cte_is_visible_to_later_siblings_and_the_body_only() -> None:
    ok = "WITH a AS (SELECT title FROM movies), b AS (SELECT title FROM a) SELECT title FROM b"
    assert check_sql(ok).readable == ok + " LIMIT 50"
    assert _reason("WITH b AS (SELECT title FROM a), a AS (SELECT title FROM movies) SELECT title FROM b") == (
        "The relation a is not available; only movies can be queried."
    )


def test_a_cte_defined_in_one_subquery_is_not_visible_in_another() -> None:
    sql = (
        "SELECT (SELECT count(*) FROM (WITH picks AS (SELECT id FROM movies) SELECT id FROM picks) s) AS a,"
        " (SELECT count(*) FROM picks) AS b FROM movies"
    )
    assert _reason(sql) == "The relation picks is not available; only movies can be queried."


def test_an_inner_cte_shadows_an_outer_one_as_in_postgres() -> None:
    sql = (
        "WITH picks AS (SELECT title FROM movies) SELECT p.title, (WITH picks AS (SELECT 1 AS n) "
        "SELECT max(n) FROM picks) AS one FROM picks AS p"
    )
    assert check_sql(sql).readable == sql.replace("max(", "MAX(") + " LIMIT 50"
    # the inner picks has no title: resolving it as the outer one would accept this
    assert _reason(
        "WITH picks AS (SELECT title FROM movies) SELECT (WITH picks AS (SELECT 1 AS n) SELECT max(q.title) "
        "FROM picks AS q) FROM picks"
    ) == "There is no column title in q; it has n."


def test_a_cte_never_sees_itself() -> None:
    assert _reason("WITH picks AS (SELECT title FROM picks) SELECT title FROM picks") == (
        "The relation picks is not available; only movies can be queried."
    )


@pytest.mark.parametrize("name", ["pg_roles", "PG_SETTINGS", "pg_stat_activity", "ratings", "movies", "information_schema"])
def test_a_cte_may_not_shadow_a_relation(name: str) -> None:
    assert _reason(f"WITH {name} AS (SELECT id FROM movies) SELECT 1 AS x") == (
        f"The WITH query name {name.lower()} is the name of a database relation; choose another name, for example picks."
    )


def test_every_table_of_the_schema_counts_as_a_relation() -> None:
    for table in Base.metadata.tables.values():
        assert is_reserved_relation(table.name)
    assert not is_reserved_relation("picks")


# -- special values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["user", "current_role", "system_user", "session_user", "current_user", "current_catalog"])
def test_special_values_are_never_columns(word: str) -> None:
    reason = _reason(f"SELECT t.title FROM (SELECT title, 1 AS \"{word}\" FROM movies) t WHERE t.title <> {word}")
    assert reason == f"{word} is an SQL keyword for a database value, not a column; select the columns of movies."


def test_a_quoted_column_of_that_name_is_a_column() -> None:
    sql = 'SELECT x."user" FROM (SELECT director AS "user" FROM movies) AS x'
    assert check_sql(sql).readable == sql + " LIMIT 50"


# -- lineage ----------------------------------------------------------------------------------------


def test_a_renamed_embedding_still_only_feeds_a_distance() -> None:
    ok = (
        "WITH c AS (SELECT title, embedding AS v FROM movies) SELECT x.title FROM (SELECT title, v AS w FROM c) AS x "
        "ORDER BY x.w <=> embed('space') LIMIT 3"
    )
    assert check_sql(ok).readable == ok.replace("embed('space')", "%(embed_0)s::vector")
    for leak in ("x.w", "x.w::text", "array_agg(x.w)", "length(x.w::text)", "x.w IS NOT DISTINCT FROM x.w"):
        with pytest.raises(UnsafeSQL):
            check_sql(f"WITH c AS (SELECT embedding AS v FROM movies) SELECT {leak} FROM (SELECT v AS w FROM c) AS x")


def test_whole_row_references_are_refused() -> None:
    assert _reason("SELECT x FROM (SELECT title FROM movies) AS x") == (
        "x names a whole table row, which would include the raw embedding; select the columns you need."
    )


def test_a_star_over_columns_without_the_embedding_is_fine() -> None:
    sql = "SELECT * FROM (SELECT title, year FROM movies WHERE year > 2000) AS t ORDER BY year"
    assert check_sql(sql).readable == sql + " LIMIT 50"


def test_ambiguous_names_are_refused() -> None:
    assert _reason("SELECT title FROM movies AS a, movies AS b") == (
        "The column name title is ambiguous here; qualify it as table.title."
    )


# -- nesting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 40])
def test_deep_subqueries_get_a_verdict(depth: int) -> None:
    sql = "SELECT title FROM movies WHERE id IN " + "(SELECT id FROM movies WHERE id IN " * depth + "(1)" + ")" * depth
    assert _reason(sql) == f"The query nests parentheses or subqueries more than {MAX_DEPTH} deep; write a flatter SELECT."


def test_nesting_up_to_the_bound_is_checked_normally() -> None:
    inner = "movies"
    for i in range(MAX_DEPTH - 1):
        inner = f"(SELECT title FROM {inner}) AS t{i}"
    assert check_sql(f"SELECT title FROM {inner}").readable.startswith("SELECT title FROM (SELECT title FROM (SELECT")


def test_long_flat_conditions_are_fine() -> None:
    titles = " OR ".join(f"title = 't{i}'" for i in range(150))
    assert check_sql(f"SELECT title FROM movies WHERE {titles}").readable.endswith("title = 't149' LIMIT 50")


@pytest.mark.parametrize(
    "draft",
    [
        # sqlglot's time doubles with each nested bracket: 19 of these took minutes before the bound
        "SELECT " + "ARRAY[(" * (MAX_BRACKET_DEPTH + 1) + "1" + ")]" * (MAX_BRACKET_DEPTH + 1) + " AS a",
        "SELECT " + "ARRAY[" * (MAX_BRACKET_DEPTH + 1) + "'x'" + "]" * (MAX_BRACKET_DEPTH + 1) + " AS a",
        "SELECT genres[" * (MAX_BRACKET_DEPTH + 1) + "1" + "]" * (MAX_BRACKET_DEPTH + 1) + " AS g FROM movies",
    ],
)
def test_nested_square_brackets_are_bounded_before_parsing(draft: str) -> None:
    assert _reason(draft) == (
        f"The query nests square brackets (ARRAY[...] or x[i]) more than {MAX_BRACKET_DEPTH} deep; write a flatter SELECT."
    )


def test_many_square_brackets_are_bounded_and_a_few_are_fine() -> None:
    chain = "SELECT title FROM movies WHERE " + " OR ".join(f"genres[{i}] = 'Drama'" for i in range(MAX_BRACKETS + 1))
    assert _reason(chain) == (
        f"The query uses square brackets (ARRAY[...] or x[i]) more than {MAX_BRACKETS} times; write a shorter SELECT."
    )
    nested = "SELECT (ARRAY[ARRAY[genres[1], 'x']])[1][1] AS g FROM movies"
    assert check_sql(nested).readable == "SELECT (ARRAY[ARRAY[genres[1], 'x']])[1][1] AS g, id FROM movies LIMIT 50"


@pytest.mark.parametrize(
    ("draft", "runs"),
    [
        # what follows the parentheses belongs to the query inside them
        ("((SELECT title FROM movies) UNION (SELECT director FROM movies)) ORDER BY 1 LIMIT 7",
         "(SELECT title FROM movies) UNION (SELECT director FROM movies) ORDER BY 1 LIMIT 7"),
        ("(SELECT title FROM movies ORDER BY year) LIMIT 4", "SELECT title, id FROM movies ORDER BY year LIMIT 4"),
        ("((SELECT title FROM movies ORDER BY year)) ORDER BY title OFFSET 2",
         "SELECT title, id FROM movies ORDER BY title LIMIT 50 OFFSET 2"),
        ("(WITH w AS (SELECT title FROM movies) SELECT title FROM w) LIMIT 3",
         "WITH w AS (SELECT title FROM movies) SELECT title FROM w LIMIT 3"),
    ],
)
def test_a_parenthesised_query_keeps_its_order_and_limit(draft: str, runs: str) -> None:
    assert check_sql(draft).readable == runs


def test_limits_inside_and_after_parentheses_are_refused() -> None:
    assert _reason("((SELECT title FROM movies LIMIT 3)) ORDER BY title") == (
        "ORDER BY, LIMIT or OFFSET both inside and after a parenthesised query is not allowed; "
        "write one SELECT with a single ORDER BY and LIMIT."
    )
    assert _reason("(SELECT title FROM movies) LIMIT 51") == "LIMIT 51 is more than the 50 rows allowed; use LIMIT 50 or less."


# -- functions in FROM and LATERAL unnest ---------------------------------------------------------


def test_a_text_search_query_in_from_is_one_row_of_quoted_text() -> None:
    fts = "SELECT q FROM plainto_tsquery('english', 'heist') AS q"
    assert check_sql(fts).readable == "SELECT q FROM PLAINTO_TSQUERY('english', 'heist') AS q LIMIT 50"  # no id: not movies
    assert _reason("SELECT title FROM movies, to_tsquery(title) AS q") == (
        "to_tsquery() in FROM takes quoted text only, for example FROM movies, to_tsquery('english', 'bank heist') AS q."
    )
    assert _reason("SELECT title FROM movies, websearch_to_tsquery((SELECT min(summary) FROM movies)) AS q").startswith(
        "websearch_to_tsquery() in FROM takes quoted text only"
    )
    assert _reason("SELECT 1 AS one FROM movies, plainto_tsquery('x') AS embedding") == (
        "The name embedding is reserved for the embedding column; choose another alias."
    )
    assert _reason("SELECT title FROM movies, ts_debug('x') AS d") == "TS_DEBUG('x') AS d cannot be used as a table; select from movies."


@pytest.mark.parametrize(
    "draft",
    [
        "SELECT v::text AS t FROM movies AS m CROSS JOIN LATERAL unnest(ARRAY[m.embedding]) AS v",
        "SELECT v FROM movies CROSS JOIN LATERAL unnest(ARRAY(SELECT e FROM (SELECT embedding AS e FROM movies) AS z)) AS v",
    ],
)
def test_lateral_unnest_never_carries_the_embedding_out(draft: str) -> None:
    assert _reason(draft).startswith("The raw embedding column may only be compared with a pgvector operator")


def test_lateral_unnest_of_a_subquery_counts_as_a_scan() -> None:
    assert _reason(
        "SELECT count(*) AS n FROM movies AS a, movies AS b CROSS JOIN LATERAL unnest(ARRAY(SELECT c.id FROM movies AS c)) AS x"
    ) == "The query joins movies with itself more than once, which is too expensive; use at most one self-join."


def test_to_char_needs_a_short_quoted_pattern() -> None:
    assert _reason("SELECT to_char(avg_rating, title) AS r FROM movies") == (
        "to_char() needs a quoted pattern of at most 64 characters, for example to_char(avg_rating, 'FM9.00')."
    )


# -- values grown level after level ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "grows"),
    [
        ("WITH a AS (SELECT director || director AS s FROM movies), b AS (SELECT s || s AS s FROM a) SELECT s FROM b", "s || s"),
        ("SELECT t FROM (SELECT concat(w, w) AS t FROM (SELECT lower(title || title) AS w FROM movies) AS x) AS y", "CONCAT(w, w)"),
        ("WITH a AS (SELECT regexp_replace(summary, 'e', '\\&\\&\\&', 'g') AS s FROM movies),"
         " b AS (SELECT regexp_replace(s, 'e', '\\&\\&\\&', 'g') AS s FROM a) SELECT length(s) AS n FROM b",
         "REGEXP_REPLACE(s, 'e', '\\&\\&\\&', 'g')"),
        ("WITH a AS (SELECT string_agg(title, '') AS s FROM movies), b AS (SELECT string_agg(a.s, '') AS s FROM a, movies)"
         " SELECT length(s) AS n FROM b", "STRING_AGG(a.s, '')"),
        ("WITH a AS (SELECT title || title AS s FROM movies UNION ALL SELECT director FROM movies),"
         " b AS (SELECT * FROM a) SELECT (SELECT string_agg(s, '') FROM b) AS t", "STRING_AGG(s, '')"),
    ],
)
def test_a_value_grown_in_one_level_is_not_grown_again_in_another(draft: str, grows: str) -> None:
    assert _reason(draft) == (
        f"{grows} makes a value longer from one a WITH query or subquery already built by concatenation, "
        "replace or aggregation; chained, that grows without bound. Build the text once, in the outer SELECT."
    )


@pytest.mark.parametrize(
    ("draft", "runs"),
    [
        ("WITH x AS (SELECT title || ' (' || year || ')' AS label FROM movies) SELECT string_agg(label, ', ') AS labels FROM x",
         "WITH x AS (SELECT title || ' (' || year || ')' AS label FROM movies) SELECT STRING_AGG(label, ', ') AS labels FROM x LIMIT 50"),
        ("WITH x AS (SELECT title || '!' AS label FROM movies), y AS (SELECT upper(label) AS l FROM x) SELECT l FROM y",
         "WITH x AS (SELECT title || '!' AS label FROM movies), y AS (SELECT UPPER(label) AS l FROM x) SELECT l FROM y LIMIT 50"),
        ("SELECT title FROM movies WHERE id IN (SELECT id FROM movies WHERE title || ' ' || director ILIKE '%x%')",
         "SELECT title, id FROM movies WHERE id IN (SELECT id FROM movies WHERE title || ' ' || director ILIKE '%x%') LIMIT 50"),
        ("SELECT g, count(*) AS n FROM (SELECT unnest(genres || actors) AS g FROM movies) AS x GROUP BY g",
         "SELECT g, COUNT(*) AS n FROM (SELECT UNNEST(genres || actors) AS g FROM movies) AS x GROUP BY g LIMIT 50"),
    ],
)
def test_growing_once_or_only_in_the_outer_select_is_fine(draft: str, runs: str) -> None:
    assert check_sql(draft).readable == runs


# -- id for citations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "runs"),
    [
        ("SELECT title FROM movies ORDER BY 1", "SELECT title, id FROM movies ORDER BY 1 LIMIT 50"),
        ("SELECT m.title FROM movies AS m WHERE m.year > 2000", "SELECT m.title, m.id FROM movies AS m WHERE m.year > 2000 LIMIT 50"),
        ("SELECT title, g FROM movies, unnest(genres) AS g", "SELECT title, g, movies.id FROM movies, UNNEST(genres) AS g LIMIT 50"),
        ("SELECT title, rank() OVER (ORDER BY year) AS r FROM movies", "SELECT title, RANK() OVER (ORDER BY year) AS r, id FROM movies LIMIT 50"),
        # unchanged: id already there, or one output row is not one movie
        ("SELECT id AS movie, title, id FROM movies", "SELECT id AS movie, title, id FROM movies LIMIT 50"),
        ("SELECT count(*) AS n FROM movies", "SELECT COUNT(*) AS n FROM movies LIMIT 50"),
        ("SELECT DISTINCT director FROM movies", "SELECT DISTINCT director FROM movies LIMIT 50"),
        ("SELECT director FROM movies GROUP BY director", "SELECT director FROM movies GROUP BY director LIMIT 50"),
        ("SELECT a.title FROM movies AS a JOIN movies AS b ON a.id = b.id", "SELECT a.title FROM movies AS a JOIN movies AS b ON a.id = b.id LIMIT 50"),
        ("SELECT title FROM movies UNION SELECT director FROM movies", "SELECT title FROM movies UNION SELECT director FROM movies LIMIT 50"),
        ("WITH c AS (SELECT title FROM movies) SELECT title FROM c", "WITH c AS (SELECT title FROM movies) SELECT title FROM c LIMIT 50"),
    ],
)
def test_id_is_added_only_where_each_row_is_one_movie(draft: str, runs: str) -> None:
    assert check_sql(draft).readable == runs


# -- every checker failure is a sentence --------------------------------------------------------------


@pytest.mark.parametrize(
    "draft",
    ["SELECT", "SELECT (", ")))", "WITH", "SELECT 1 FROM (SELECT", "SELECT title FROM movies WHERE", "((SELECT 1)",
     "SELECT * FROM movies m, LATERAL", "SELECT '\\", "SELECT $$", "SELECT title FROM movies AS m(a, b)"],
)
def test_garbage_gets_a_sentence(draft: str) -> None:
    reason = _reason(draft)
    assert reason.endswith(".") and "\n" not in reason
