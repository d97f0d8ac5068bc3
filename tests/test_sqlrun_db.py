"""The runner against the real embedded Postgres with the checker bypassed: bytes are capped per
value, per row and per result; reader sessions cannot read each other's query text; the schema
refuses an old pgvector; every relation the reader can name is one a CTE may not shadow."""

from __future__ import annotations

import math
import threading
import time

import psycopg
import pytest

from retrieval import sqlrun
from retrieval.database import DatabaseError, make_engine
from retrieval.schema import check_pgvector
from retrieval.sqlguard import is_reserved_relation
from retrieval.sqlrun import (
    APPLICATION_NAME,
    LOST_CONNECTION,
    MAX_RESULT_BYTES,
    MAX_ROW_BYTES,
    MAX_VALUE_BYTES,
    SQLRunError,
    run_readonly,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(schema_database) -> str:
    url = schema_database("sqlrun")
    yield url
    sqlrun.close_pools()


def test_a_huge_text_value_comes_back_as_a_prefix_with_its_size(db: str) -> None:
    rows = run_readonly("SELECT repeat('x', 10000000) AS big, 7 AS small", {}, db=db)
    assert len(rows) == 1 and rows[0]["small"] == 7
    assert rows[0]["big"] == "x" * MAX_VALUE_BYTES + "… [cut: 10000000 bytes]"
    assert rows.cut_values == 1 and not rows.truncated


def test_a_huge_non_text_value_comes_back_as_a_marker(db: str) -> None:
    with psycopg.connect(db) as owner:
        size = owner.execute("SELECT octet_length(array_fill(1, ARRAY[100000])::text)").fetchone()[0]  # type: ignore[index]
    rows = run_readonly("SELECT array_fill(1, ARRAY[100000]) AS a, ARRAY[1, 2] AS b", {}, db=db)
    assert rows == [{"a": f"[value cut: {size} bytes]", "b": [1, 2]}]


def test_multibyte_text_is_cut_on_a_character_boundary(db: str) -> None:
    rows = run_readonly("SELECT repeat('é', 100000) AS s", {}, db=db)
    head = rows[0]["s"].split("…")[0]
    assert head == "é" * (MAX_VALUE_BYTES // 2) and rows[0]["s"].endswith("[cut: 200000 bytes]")


def test_a_row_of_many_medium_values_is_cut_to_the_row_cap(db: str) -> None:
    cols = ", ".join(f"repeat('v', 3000) AS c{i}" for i in range(12))  # each under the value cap
    rows = run_readonly(f"SELECT {cols}", {}, db=db)
    row = rows[0]
    assert sum(len(str(v).encode()) for v in row.values()) <= MAX_ROW_BYTES
    cut = [v for v in row.values() if v != "v" * 3000]
    assert cut and all(v.startswith("v" * 1000) and v.endswith("… [cut: 3000 bytes]") for v in cut)
    assert rows.cut_values == len(cut)


def test_fetching_stops_at_the_result_byte_cap(db: str) -> None:
    rows = run_readonly("SELECT repeat('y', 3000) AS s FROM generate_series(1, 1000)", {}, db=db, row_cap=1000)
    assert len(rows) == math.ceil(MAX_RESULT_BYTES / 3000) and rows.truncated


def test_the_row_cap_is_not_reported_as_a_byte_cut(db: str) -> None:
    rows = run_readonly("SELECT g FROM generate_series(1, 100) AS g", {}, db=db, row_cap=5)
    assert rows == [{"g": 1}, {"g": 2}, {"g": 3}, {"g": 4}, {"g": 5}]
    assert not rows.truncated and rows.cut_values == 0


def test_odd_and_duplicate_column_names_survive_the_wrapping(db: str) -> None:
    # the SQL as the guard hands it over: a literal % doubled for psycopg
    rows = run_readonly('SELECT 1 AS "100%%", 2 AS "100%%", 3 AS "a""b", %(x)s::int AS p', {"x": "4"}, db=db)
    assert rows == [{"100%": 1, "100%_2": 2, 'a"b': 3, "p": 4}]


def test_a_renamed_duplicate_never_overwrites_a_column_of_that_name(db: str) -> None:
    assert run_readonly("SELECT 1 AS a, 2 AS a, 3 AS a_2", {}, db=db) == [{"a": 1, "a_3": 2, "a_2": 3}]


def test_a_volatile_value_is_computed_once_per_row(db: str) -> None:
    # a session counter: setting it twice in one row would return 2
    sql = (
        "SELECT set_config('movie_rag.n', (coalesce(nullif(current_setting('movie_rag.n', true), ''), '0')::int + 1)::text,"
        " false) AS n"
    )
    assert run_readonly(sql, {}, db=db) == [{"n": "1"}]


def test_too_many_columns_are_refused(db: str) -> None:
    cols = ", ".join(f"{i} AS c{i}" for i in range(sqlrun.MAX_RESULT_COLUMNS + 1))
    with pytest.raises(SQLRunError, match=r"^The query returns 33 columns, more than the 32 allowed; select fewer columns\.$"):
        run_readonly(f"SELECT {cols}", {}, db=db)


def test_a_query_cut_off_by_a_server_shutdown_says_one_plain_sentence(db: str) -> None:
    """A restart ends reader backends with 57P01 ("terminating connection due to administrator
    command"): that is the server going away, not the query being refused, and no driver text."""
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            run_readonly("SELECT pg_sleep(5) AS slept", {}, db=db, timeout_ms=10_000)
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever came out
            outcome.append(exc)

    worker = threading.Thread(target=ask)
    worker.start()
    time.sleep(0.8)
    with psycopg.connect(db, autocommit=True) as owner:  # what a fast shutdown does to each backend
        owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = 'movie_rag_reader' AND datname = current_database()"
        )
    worker.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError)
    assert str(outcome[0]) == LOST_CONNECTION
    assert run_readonly("SELECT 1 AS one", {}, db=db) == [{"one": 1}]  # the pool recovers


# -- reader isolation ------------------------------------------------------------------------------


def test_reader_sessions_do_not_show_their_query_text(db: str) -> None:
    secret = "a question nobody else may read"
    started = threading.Event()

    def slow() -> None:
        started.set()
        run_readonly(f"SELECT pg_sleep(1.5) IS NULL AS slept, '{secret}' AS q", {}, db=db, timeout_ms=5000)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait()
    time.sleep(0.5)
    try:
        seen = run_readonly("SELECT coalesce(query, '') AS q, coalesce(state, '') AS s FROM pg_stat_activity", {}, db=db)
        with psycopg.connect(db) as owner:
            as_owner = owner.execute(
                "SELECT coalesce(query, ''), coalesce(state, '') FROM pg_stat_activity WHERE usename = 'movie_rag_reader'"
            ).fetchall()
            names = {r[0] for r in owner.execute(
                "SELECT application_name FROM pg_stat_activity WHERE usename = 'movie_rag_reader'"
            )}
    finally:
        worker.join()
    assert seen and not any(secret in row["q"] for row in seen)
    assert as_owner and not any(secret in q for q, _ in as_owner)
    assert {s for _, s in as_owner} <= {"disabled", ""}
    assert names == {APPLICATION_NAME}


def test_every_relation_the_reader_can_name_is_reserved(db: str) -> None:
    with psycopg.connect(db) as owner:
        names = [r[0] for r in owner.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('pg_catalog', 'public', 'llm') AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
        )]
    assert "movies" in names and "pg_stat_activity" in names
    assert [n for n in names if not is_reserved_relation(n)] == []


# -- pgvector version --------------------------------------------------------------------------------


class _Result:
    def __init__(self, value: object) -> None:
        self.value = value

    def scalar(self) -> object:
        return self.value


class _Conn:
    def __init__(self, version: object) -> None:
        self.version = version

    def execute(self, *_: object) -> _Result:
        return _Result(self.version)


def test_an_old_pgvector_is_refused_with_what_to_do() -> None:
    with pytest.raises(DatabaseError) as info:
        check_pgvector(_Conn("0.7.4"))  # type: ignore[arg-type]
    assert str(info.value) == (
        "The database has pgvector 0.7.4, but movie-rag needs 0.8.4 or newer: install pgvector 0.8.4+ "
        "on the server, then run ALTER EXTENSION vector UPDATE; in the catalog database."
    )
    assert check_pgvector(_Conn("0.8.4")) == "0.8.4"  # type: ignore[arg-type]
    assert check_pgvector(_Conn("0.10.0")) == "0.10.0"  # type: ignore[arg-type]


def test_the_embedded_server_has_a_new_enough_pgvector(db: str) -> None:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            version = check_pgvector(conn)
    finally:
        engine.dispose()
    assert tuple(int(p) for p in version.split(".")) >= (0, 8, 4)
