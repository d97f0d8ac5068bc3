"""Run SQL as the read-only reader role with database-level defences only, bytes capped.

`run_readonly` trusts nothing about the SQL it is given (the checker in `retrieval.sqlguard`
may have been bypassed): it runs as a login role that can only SELECT one view, inside
`BEGIN READ ONLY` with a local `statement_timeout`, `lock_timeout` and pinned `search_path`,
caps rows *and bytes*, and always rolls back. How the role is set up (and what a DBA runs on an
external server) is in docs/sql-reader.md.

Bytes are capped before they leave the database: a row-returning query is first described
(`LIMIT 0`, nothing runs), then wrapped so that any value whose text form is longer than
`MAX_VALUE_BYTES` comes back as a prefix (text) or not at all (other types), with its size;
fetching then stops once the rows read hold `MAX_RESULT_BYTES`. A 57 MB aggregate therefore
never crosses the wire, let alone reaches a prompt.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

READER_ROLE = "movie_rag_reader"
"""The login role LLM SQL runs as."""
LLM_SCHEMA = "llm"
"""The schema holding the views the reader may SELECT."""
SEARCH_PATH = f"{LLM_SCHEMA}, public"
"""`movies` resolves to `llm.movies`; `public` stays for pgvector's type, operators, functions."""
APPLICATION_NAME = "movie-rag-sql"
"""What other sessions see as the reader's application: fixed, never user text."""
DEFAULT_ROW_CAP = 50
DEFAULT_TIMEOUT_MS = 2000
POOL_MAX_SIZE = 4
"""Reader connections per database URL."""
MAX_VALUE_BYTES = 4000
"""Longest text form of one value that comes back whole (a summary is ~300-1000 bytes)."""
MAX_ROW_BYTES = 16_000
"""Largest row kept whole; longer values of a bigger row are cut until it fits."""
MAX_RESULT_BYTES = 200_000
"""Fetching stops once the rows read hold this many bytes."""
MAX_RESULT_COLUMNS = 32

_TEXT_OIDS = frozenset({25, 1042, 1043, 19})  # text, bpchar, varchar, name: cut keeps a prefix


class SQLRunError(RuntimeError):
    """The database refused or cancelled a query; str() is one sentence, `sqlstate` the code."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class Rows(list):  # type: ignore[type-arg]
    """The rows a query returned (a plain list of dicts), plus what the byte caps did."""

    cut_values: int = 0
    """How many values were cut to MAX_VALUE_BYTES / MAX_ROW_BYTES."""
    truncated: bool = False
    """True when fetching stopped at MAX_RESULT_BYTES before the row cap."""


def vector_literal(values: Iterable[float]) -> str:
    """pgvector's text form of a vector, `[0.1,0.2,...]`, for a `%(embed_N)s::vector` parameter."""
    out = []
    for v in values:
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"vector value {v!r} is not a finite number")
        out.append(repr(f))
    if not out:
        raise ValueError("a vector needs at least one value")
    return "[" + ",".join(out) + "]"


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------

_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def reader_conninfo(db: str, *, reader_url: str | None = None) -> str:
    """Connection string for the reader role: `reader_url` as given, else `db` with the user
    swapped for READER_ROLE and no password (the embedded server trusts local logins)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from retrieval.database import libpq_url

    params = conninfo_to_dict(libpq_url(reader_url or db))
    if reader_url is None:
        params["user"] = READER_ROLE
        params.pop("password", None)
    params["options"] = (
        "-c default_transaction_read_only=on "
        f"-c statement_timeout={DEFAULT_TIMEOUT_MS} "
        "-c idle_in_transaction_session_timeout=10000 "
        f"-c search_path={SEARCH_PATH.replace(' ', '')}"
    )
    params["application_name"] = APPLICATION_NAME
    return make_conninfo("", **params)


def _reset(conn: Any) -> None:
    # Undo anything session-level a query might have left behind that a rollback does not undo
    # (session advisory locks, prepared statements, LISTEN, temp objects, session GUCs).
    conn.execute("DISCARD ALL")


def _pool_for(conninfo: str) -> Any:
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(conninfo)
        if pool is None:
            pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=POOL_MAX_SIZE,
                kwargs={"autocommit": True, "prepare_threshold": None},
                reset=_reset,
                check=ConnectionPool.check_connection,
                name="sqlguard",
                timeout=10.0,
                open=True,
            )
            _pools[conninfo] = pool
        return pool


def close_pools() -> None:
    """Close every reader pool (tests, shutdown)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# --------------------------------------------------------------------------------------------
# Running one query
# --------------------------------------------------------------------------------------------


def _dedupe(names: Sequence[str]) -> list[str]:
    """Distinct keys for a row dict: a repeated name gets `_2`, `_3`, ... skipping any name the
    query itself uses (`SELECT 1 AS a, 2 AS a, 3 AS a_2` keeps all three values)."""
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        key, n = name, 1
        while key in seen or (key != name and key in taken):
            n += 1
            key = f"{name}_{n}"
        seen.add(key)
        out.append(key)
    return out


def _describe(conn: Any, sql: str, params: dict[str, Any]) -> list[tuple[str, int]] | None:
    """(name, type oid) of each result column, or None when `sql` is not a query that can be
    wrapped (a write, a utility statement, several statements): those run as sent."""
    import psycopg

    conn.execute("SAVEPOINT movie_rag_describe")
    try:
        cur = conn.execute(f"SELECT * FROM (\n{sql}\n) AS _q LIMIT 0", params)
    except psycopg.errors.SyntaxError:
        conn.execute("ROLLBACK TO SAVEPOINT movie_rag_describe")
        return None
    conn.execute("RELEASE SAVEPOINT movie_rag_describe")
    columns = [(c.name, c.type_code) for c in cur.description or ()]
    return columns or None


def _capped_query(sql: str, columns: Sequence[tuple[str, int]]) -> Any:
    """`sql` wrapped so no value longer than MAX_VALUE_BYTES leaves the server whole: each
    column `_cN` comes back cut, plus `_cut` holding the original size of every cut value."""
    from psycopg import sql as pgsql

    cap = pgsql.Literal(MAX_VALUE_BYTES)
    picks, sizes = [], []
    for i, (name, oid) in enumerate(columns, start=1):
        col = pgsql.Identifier("_q", f"_c{i}")
        size = pgsql.SQL("octet_length({}::text)").format(col)
        kept = pgsql.SQL("left({}::text, {})").format(col, cap) if oid in _TEXT_OIDS else pgsql.SQL("NULL")
        # The composed text still goes through psycopg's %-placeholder pass: double any % in names.
        out = pgsql.Identifier(name.replace("%", "%%"))
        picks.append(pgsql.SQL("CASE WHEN {size} > {cap} THEN {kept} ELSE {col} END AS {name}").format(
            size=size, cap=cap, kept=kept, col=col, name=out))
        sizes.append(pgsql.SQL("CASE WHEN {} > {} THEN {} END").format(size, cap, size))
    aliases = pgsql.SQL(", ").join(pgsql.Identifier(f"_c{i}") for i in range(1, len(columns) + 1))
    return pgsql.Composed([
        pgsql.SQL("SELECT "), pgsql.SQL(", ").join(picks),
        pgsql.SQL(", ARRAY[{}]::bigint[] AS _cut FROM (SELECT * FROM (\n").format(pgsql.SQL(", ").join(sizes)),
        pgsql.SQL(sql),  # type: ignore[arg-type]  # the caller's SQL, verbatim (it is the query)
        # OFFSET 0 keeps the query a subquery the planner cannot flatten, so each volatile
        # value (random(), set_config()) is computed once, not once per reference above.
        pgsql.SQL("\n) AS _r OFFSET 0) AS _q({})").format(aliases),
    ])


def _cut_text(value: str, limit: int, size: int) -> str:
    head = value.encode()[:limit].decode(errors="ignore")
    return f"{head}… [cut: {size} bytes]"


def _cut_marker(size: int) -> str:
    return f"[value cut: {size} bytes]"


def _nbytes(value: Any) -> int:
    return 4 if value is None else len(str(value).encode())


def _fit_row(row: dict[str, Any]) -> int:
    """Cut the longest values of a row bigger than MAX_ROW_BYTES until it fits; how many cut."""
    share = max(64, MAX_ROW_BYTES // max(1, len(row)))
    cut = 0
    for key in sorted(row, key=lambda k: -_nbytes(row[k])):
        if sum(_nbytes(v) for v in row.values()) <= MAX_ROW_BYTES:
            break
        size = _nbytes(row[key])
        if size <= share:
            break
        # keep room for the "… [cut: N bytes]" suffix so the cut value stays within its share
        row[key] = _cut_text(str(row[key]), share - 40, size) if isinstance(row[key], str) else _cut_marker(size)
        cut += 1
    return cut


def _fetch(cur: Any, query: Any, params: dict[str, Any], cap: int, columns: Sequence[tuple[str, int]] | None) -> Rows:
    rows = Rows()
    total = 0
    names: list[str] | None = _dedupe([c[0] for c in columns]) if columns else None
    text_cols = {i for i, (_, oid) in enumerate(columns or ()) if oid in _TEXT_OIDS}
    # stream() always uses the extended protocol, which refuses a second statement
    # ("SELECT 1; COMMIT; ..."), and lets us stop reading at the row and byte caps.
    for raw in cur.stream(query, params, size=max(1, min(cap, 10))):
        if names is None:
            names = _dedupe([c.name for c in cur.description or ()])
        if len(rows) >= cap:
            break
        values = list(raw)
        if columns:
            cuts = values.pop()  # the `_cut` sizes
            for i, size in enumerate(cuts or ()):
                if size is not None:
                    values[i] = _cut_text(values[i], MAX_VALUE_BYTES, size) if i in text_cols else _cut_marker(size)
                    rows.cut_values += 1
        row = dict(zip(names, values, strict=True))
        rows.cut_values += _fit_row(row)
        rows.append(row)
        total += sum(_nbytes(v) for v in row.values())
        if total >= MAX_RESULT_BYTES:
            rows.truncated = len(rows) < cap
            break
    return rows


def run_readonly(
    sql: str,
    params: Mapping[str, Any],
    *,
    db: str,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    row_cap: int = DEFAULT_ROW_CAP,
    reader_url: str | None = None,
) -> Rows:
    """Run `sql` as the reader role with database-level defences only (no checking here).

    `db` is the catalog's libpq URL; the reader's connection is derived from it unless
    `reader_url` names one. Each call: BEGIN READ ONLY, SET LOCAL statement_timeout,
    lock_timeout and search_path, fetch at most `row_cap` rows within the byte caps, ROLLBACK.
    Raises `SQLRunError` when the database refuses or cancels the query and
    `retrieval.database.DatabaseError` when it cannot connect.
    """
    import psycopg
    from psycopg import sql as pgsql
    from psycopg_pool import PoolClosed, PoolTimeout

    from retrieval.database import DatabaseError, describe_url

    conninfo = reader_conninfo(db, reader_url=reader_url)
    timeout_ms = max(1, int(timeout_ms))
    bound = dict(params)
    try:
        pool = _pool_for(conninfo)
        with pool.connection() as conn:
            try:
                conn.execute("BEGIN READ ONLY")
                conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(pgsql.Literal(f"{timeout_ms}ms")))
                conn.execute(pgsql.SQL("SET LOCAL lock_timeout = {}").format(pgsql.Literal(f"{timeout_ms}ms")))
                conn.execute(pgsql.SQL("SET LOCAL search_path = {}").format(pgsql.SQL(SEARCH_PATH)))
                columns = _describe(conn, sql, bound)
                if columns is not None and len(columns) > MAX_RESULT_COLUMNS:
                    raise SQLRunError(
                        f"The query returns {len(columns)} columns, more than the {MAX_RESULT_COLUMNS} "
                        "allowed; select fewer columns."
                    )
                query: Any = _capped_query(sql, columns) if columns else sql
                return _fetch(conn.cursor(), query, bound, max(0, int(row_cap)), columns)
            except psycopg.OperationalError as exc:
                if exc.sqlstate is None or _connection_lost(exc):
                    raise
                raise _run_error(exc, timeout_ms) from exc
            except psycopg.Error as exc:
                if _connection_lost(exc):
                    raise
                raise _run_error(exc, timeout_ms) from exc
            finally:
                if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        log.debug("rollback failed on a reader connection", exc_info=True)
    except PoolTimeout as exc:
        raise DatabaseError(
            f"Could not connect to {describe_url(db)} as {READER_ROLE} for read-only SQL; create the "
            "role as docs/sql-reader.md describes or set MOVIE_RAG_SQL_READER_URL."
        ) from exc
    except PoolClosed as exc:  # close_pools() ran while this query waited (shutdown, a test)
        raise DatabaseError(LOST_CONNECTION) from exc
    except psycopg.Error as exc:
        if not _connection_lost(exc) and (isinstance(exc, psycopg.errors.QueryCanceled) or getattr(exc, "sqlstate", None)):
            raise _run_error(exc, timeout_ms) from exc
        # the driver's words go to the log; the person (and the answer's note) get one sentence
        log.info("read-only connection to %s lost: %s", describe_url(db), str(exc).strip().splitlines()[:1])
        raise DatabaseError(LOST_CONNECTION) from exc


LOST_CONNECTION = (
    "The catalog database closed the connection for read-only SQL (it is restarting or shutting "
    "down); ask again in a moment."
)
"""What a query cut off by a restart says: the database's own words are for the log."""

# Connection exceptions (class 08) and the server going away (admin / crash shutdown, cannot
# connect now): the query was not refused, the server was.
_LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def _connection_lost(exc: BaseException) -> bool:
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_LOST_SQLSTATES)


def _run_error(exc: Exception, timeout_ms: int) -> SQLRunError:
    import psycopg

    state = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag is not None else None) or str(exc).splitlines()[0]
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return SQLRunError(f"The query ran longer than {timeout_ms} ms and was cancelled.", state)
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return SQLRunError(f"The database refused to write: {primary}.", state)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return SQLRunError(f"The database refused the query: {primary}.", state)
    return SQLRunError(f"The database rejected the query: {primary}.", state)


__all__ = [
    "APPLICATION_NAME",
    "LOST_CONNECTION",
    "DEFAULT_ROW_CAP",
    "DEFAULT_TIMEOUT_MS",
    "LLM_SCHEMA",
    "MAX_RESULT_BYTES",
    "MAX_ROW_BYTES",
    "MAX_VALUE_BYTES",
    "READER_ROLE",
    "SEARCH_PATH",
    "Rows",
    "SQLRunError",
    "close_pools",
    "reader_conninfo",
    "run_readonly",
    "vector_literal",
]
