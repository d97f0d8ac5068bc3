"""The SQL guard against the real embedded Postgres: accepted drafts return the exact rows, and
with the checker bypassed the database itself refuses writes, escapes, catalog reads and long
sleeps, and a pooled connection stays read-only with its timeout afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy import text

from retrieval import sqlguard, sqlrun
from retrieval.database import make_engine
from retrieval.schema import create_schema
from retrieval.sqlguard import SQLRunError, check_sql, run_readonly, vector_literal

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parent / "sql_corpus"
CATALOG = yaml.safe_load((CORPUS / "catalog.yaml").read_text())
SAFE = yaml.safe_load((CORPUS / "safe.yaml").read_text())

_INSERT = text(
    "INSERT INTO movies (id, source_key, source, title, year, country, language, duration_min, summary,"
    " genres, director, writers, actors, avg_rating, num_ratings, people, embedding_text, embedding)"
    " VALUES (:id, :source_key, 'test', :title, :year, :country, :language, :duration_min, :summary,"
    " :genres, :director, :writers, :actors, :avg_rating, :num_ratings, :people, :embedding_text,"
    " CAST(:embedding AS vector))"
)


@pytest.fixture(scope="module")
def catalog_db(new_database, embedder) -> str:
    """A database holding tests/sql_corpus/catalog.yaml, embedded with the real model."""
    url = new_database("sqlguard")
    engine = make_engine(url)
    try:
        create_schema(engine)
        create_schema(engine)  # the role/view/grant setup is idempotent
        texts = [f"{m['title']}. {', '.join(m['genres'])}. {m['summary']}" for m in CATALOG]
        vectors = embedder.embed_documents(texts)
        with engine.begin() as conn:
            for movie, body, vec in zip(CATALOG, texts, vectors, strict=True):
                conn.execute(_INSERT, {
                    **movie, "source_key": f"test:{movie['id']}", "embedding_text": body,
                    "people": " ; ".join([movie["director"], *movie["writers"], *movie["actors"]]),
                    "embedding": vector_literal(vec),
                })
    finally:
        engine.dispose()
    yield url
    sqlguard.close_pools()


def _plain(rows: list[dict]) -> list[dict]:
    """Rows as JSON would carry them (numeric -> string), to compare with the YAML corpus."""
    return json.loads(json.dumps(rows, default=str))


@pytest.mark.parametrize("item", SAFE, ids=[f"{i:02d}" for i in range(len(SAFE))])
def test_accepted_draft_returns_the_exact_rows(catalog_db: str, embedder, item: dict) -> None:
    cap = item.get("row_cap", 50)
    checked = check_sql(item["sql"], row_cap=cap)
    rows = run_readonly(checked.sql, checked.params(embedder.embed_query), db=catalog_db, row_cap=cap)
    assert _plain(rows) == item["rows"]


def test_row_cap_holds_even_without_a_limit(catalog_db: str) -> None:
    rows = run_readonly("SELECT id FROM movies ORDER BY id", {}, db=catalog_db, row_cap=3)
    assert rows == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_duplicate_column_names_are_kept_apart(catalog_db: str) -> None:
    sql = check_sql("SELECT a.title, b.title FROM movies AS a JOIN movies AS b ON b.id = a.id + 1 ORDER BY a.id LIMIT 1").sql
    assert run_readonly(sql, {}, db=catalog_db) == [{"title": "Up", "title_2": "Finding Nemo"}]


# -- the database holds with the checker bypassed -----------------------------------------------


def _refused(url: str, sql: str, **kw: object) -> SQLRunError:
    with pytest.raises(SQLRunError) as info:
        run_readonly(sql, {}, db=url, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message"),
    [
        ("INSERT INTO movies (title) VALUES ('Hacked')", "42501", "The database refused the query: permission denied for view movies."),
        ("UPDATE movies SET avg_rating = 10", "42501", "The database refused the query: permission denied for view movies."),
        ("DELETE FROM movies", "42501", "The database refused the query: permission denied for view movies."),
        ("DROP TABLE movies", "25006", "The database refused to write: cannot execute DROP TABLE in a read-only transaction."),
        ("CREATE TEMP TABLE loot (x int)", "25006", "The database refused to write: cannot execute CREATE TABLE in a read-only transaction."),
        ("SELECT source_key, embedding_text FROM public.movies", "42501", "The database refused the query: permission denied for table movies."),
        ("SELECT rolname, rolpassword FROM pg_authid", "42501", "The database refused the query: permission denied for table pg_authid."),
        ("SELECT user_id FROM public.ratings", "42501", "The database refused the query: permission denied for table ratings."),
        ("SELECT 1; COMMIT; SET default_transaction_read_only = off", "42601",
         "The database rejected the query: cannot insert multiple commands into a prepared statement."),
        ("SELECT set_config('transaction_read_only', 'off', false)", "25001",
         "The database rejected the query: transaction read-write mode must be set before any query."),
    ],
)
def test_database_refuses_what_the_checker_would(catalog_db: str, sql: str, sqlstate: str, message: str) -> None:
    error = _refused(catalog_db, sql)
    assert (error.sqlstate, str(error)) == (sqlstate, message)


def test_bookkeeping_columns_are_not_in_the_view(catalog_db: str) -> None:
    error = _refused(catalog_db, "SELECT source_key FROM movies")
    assert (error.sqlstate, str(error)) == ("42703", "The database rejected the query: column \"source_key\" does not exist.")


def test_pg_sleep_is_cancelled_by_the_statement_timeout(catalog_db: str) -> None:
    started = time.monotonic()
    error = _refused(catalog_db, "SELECT pg_sleep(60)", timeout_ms=300)
    assert (error.sqlstate, str(error)) == ("57014", "The query ran longer than 300 ms and was cancelled.")
    assert time.monotonic() - started < 10  # cancelled, not slept through


def test_turning_the_timeout_off_inside_the_query_does_not_help(catalog_db: str) -> None:
    error = _refused(catalog_db, "SELECT set_config('statement_timeout', '0', false), pg_sleep(60)", timeout_ms=300)
    assert error.sqlstate == "57014"


def test_terminating_the_owners_backend_is_refused(catalog_db: str) -> None:
    with psycopg.connect(catalog_db) as owner:
        pid = owner.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        error = _refused(catalog_db, f"SELECT pg_terminate_backend({pid})")
        assert error.sqlstate == "42501"
        assert str(error) == "The database refused the query: permission denied for function pg_terminate_backend."
        assert owner.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def one_connection_pool(monkeypatch: pytest.MonkeyPatch):
    """Reader pools of a single connection, so "the next query" runs on the same backend."""
    sqlguard.close_pools()
    monkeypatch.setattr(sqlrun, "POOL_MAX_SIZE", 1)
    yield
    sqlguard.close_pools()


STATE = (
    "SELECT pg_backend_pid() AS pid, current_user AS who,"
    " current_setting('default_transaction_read_only') AS default_ro,"
    " current_setting('transaction_read_only') AS ro,"
    " current_setting('search_path') AS search_path"
)


def test_session_escapes_do_not_outlive_the_query(catalog_db: str, one_connection_pool: None) -> None:
    before = run_readonly(STATE, {}, db=catalog_db)[0]
    escaped = run_readonly(
        "SELECT pg_backend_pid() AS pid,"
        " set_config('default_transaction_read_only', 'off', false) AS a,"
        " set_config('statement_timeout', '0', false) AS b,"
        " set_config('search_path', 'public', false) AS c",
        {}, db=catalog_db,
    )[0]
    assert escaped == {"pid": before["pid"], "a": "off", "b": "0", "c": "public"}
    after = run_readonly(STATE, {}, db=catalog_db)[0]
    assert after == before == {
        "pid": before["pid"], "who": "movie_rag_reader", "default_ro": "on", "ro": "on",
        "search_path": "llm, public",
    }
    # and the timeout still applies on that same connection
    assert _refused(catalog_db, "SELECT pg_sleep(60)", timeout_ms=300).sqlstate == "57014"
    assert run_readonly(STATE, {}, db=catalog_db)[0] == after


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("SELECT pg_terminate_backend(pg_backend_pid())", "pg_terminate_backend"),
        ("SELECT pg_cancel_backend(pid) FROM pg_stat_activity", "pg_cancel_backend"),
        ("SELECT pg_advisory_lock(727001)", "pg_advisory_lock"),
        ("SELECT pg_try_advisory_xact_lock(1, 2)", "pg_try_advisory_xact_lock"),
        ("SELECT pg_advisory_unlock_all()", "pg_advisory_unlock_all"),
    ],
)
def test_a_reader_cannot_signal_or_lock_out_other_readers(catalog_db: str, sql: str, function: str) -> None:
    error = _refused(catalog_db, sql)
    assert (error.sqlstate, str(error)) == ("42501", f"The database refused the query: permission denied for function {function}.")


def test_the_app_role_keeps_its_advisory_locks(catalog_db: str) -> None:
    with psycopg.connect(catalog_db) as owner:
        assert owner.execute("SELECT pg_try_advisory_xact_lock(727003)").fetchone() == (True,)


def test_a_terminated_reader_connection_is_replaced_by_a_fresh_read_only_one(
    catalog_db: str, one_connection_pool: None
) -> None:
    before = run_readonly(STATE, {}, db=catalog_db)[0]
    with psycopg.connect(catalog_db) as owner:  # a crash or a DBA ends the pooled backend
        assert owner.execute("SELECT pg_terminate_backend(%s)", (before["pid"],)).fetchone() == (True,)
    time.sleep(0.2)
    after = run_readonly(STATE, {}, db=catalog_db)[0]
    assert after["pid"] != before["pid"]
    assert {k: v for k, v in after.items() if k != "pid"} == {
        "who": "movie_rag_reader", "default_ro": "on", "ro": "on", "search_path": "llm, public",
    }


def test_reader_role_has_only_select_on_the_view(catalog_db: str) -> None:
    with psycopg.connect(catalog_db) as owner:
        role = owner.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin, rolinherit"
            " FROM pg_roles WHERE rolname = 'movie_rag_reader'"
        ).fetchone()
        privileges = owner.execute(
            "SELECT has_table_privilege('movie_rag_reader', 'llm.movies', 'SELECT'),"
            " has_table_privilege('movie_rag_reader', 'llm.movies', 'INSERT'),"
            " has_table_privilege('movie_rag_reader', 'public.movies', 'SELECT'),"
            " has_table_privilege('movie_rag_reader', 'public.ratings', 'SELECT'),"
            " has_schema_privilege('movie_rag_reader', 'public', 'CREATE'),"
            " has_schema_privilege('movie_rag_reader', 'llm', 'CREATE')"
        ).fetchone()
        view_columns = [r[0] for r in owner.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'llm'"
            " AND table_name = 'movies' ORDER BY ordinal_position"
        )]
    assert role == (False, False, False, False, False, True, False)
    assert privileges == (True, False, False, False, False, False)
    from retrieval.schema import LLM_COLUMNS

    assert tuple(view_columns) == LLM_COLUMNS


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_check_prints_the_sql_and_phrases(capsys: pytest.CaptureFixture[str]) -> None:
    from chatbot.cli import main

    code = main(["sql", "check", "SELECT title FROM movies WHERE title LIKE '%Up%' ORDER BY embedding <=> embed('balloons')"])
    out = capsys.readouterr().out
    assert code == 0
    assert out == (
        "SELECT title, id FROM movies WHERE title LIKE '%Up%' ORDER BY embedding <=> %(embed_0)s::vector LIMIT 50\n"
        "-- embed_0 = embed('balloons')\n"
    )


def test_cli_check_rejects_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from chatbot.cli import main

    code = main(["sql", "check", "SELECT 1; DROP TABLE movies"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == "movie-rag: rejected SQL: Exactly one statement is allowed; send a single SELECT with no semicolons inside.\n"


def test_cli_run_json_prints_rows_only(
    catalog_db: str, embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatbot import wiring
    from chatbot.cli import main

    monkeypatch.setenv("DATABASE_URL", catalog_db)
    monkeypatch.setattr(wiring, "embedder", lambda settings: embedder)
    code = main(["sql", "run", "--json", "-k", "2",
                 "SELECT title, year FROM movies ORDER BY embedding <=> embed('a heist in a casino')"])
    out = capsys.readouterr().out
    assert code == 0
    # the guard added id (rows are citable); the catalog's ids are 12 and 3
    assert json.loads(out) == [
        {"title": "The Italian Job", "year": 1969, "id": 12}, {"title": "Ocean's Eleven", "year": 2001, "id": 3},
    ]

    code = main(["sql", "run", "SELECT title, year FROM movies WHERE director = 'Ridley Scott' ORDER BY year"])
    assert code == 0
    assert capsys.readouterr().out == (
        "title        year  id\n"
        "-----------  ----  --\n"
        "Alien        1979  5\n"
        "The Martian  2015  6\n"
        "(2 rows)\n"
    )

    assert main(["sql", "run", "--json", "SELECT * FROM movies"]) == 2
