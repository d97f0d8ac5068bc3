"""What the chat UI keeps in Postgres, in its own schema `ui` beside the catalog: Chainlit's
data-layer tables (users, threads, steps, elements, feedbacks: chat history and thumbs). The
verified SQL examples a thumbs-up creates are chatbot/examples.py's (created here too).

The tables follow the shape `chainlit.data.sql_alchemy.SQLAlchemyDataLayer` reads and writes
(camelCase quoted columns); `open_data_layer` points that data layer at this schema through
asyncpg, which also reaches the embedded server's Unix socket.

Nothing is lost in an outage: a write the database cannot take (it is stopped or restarting) goes
into an `Outbox`, in order, and is written when the database answers again; every later write
queues behind it so a message never lands before its thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Engine, text

from retrieval.database import DatabaseError, is_unreachable, libpq_url

log = logging.getLogger(__name__)

SCHEMA = "ui"
_DDL_LOCK = 727_005  # advisory lock: two app processes creating the tables take turns

# Chainlit's data-layer tables: table -> (column, type) in order, the first being the key. Ids
# are text: Chainlit hands them over as strings. `CREATE TABLE IF NOT EXISTS` never adds a column
# a newer Chainlit expects, so every column is also added by `ADD COLUMN IF NOT EXISTS`.
UI_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (
        ("id", "text PRIMARY KEY"), ("identifier", "text NOT NULL UNIQUE"),
        ("metadata", "jsonb NOT NULL DEFAULT '{}'"), ("createdAt", "text"),
    ),
    "threads": (
        ("id", "text PRIMARY KEY"), ("createdAt", "text"), ("name", "text"),
        ("userId", f'text REFERENCES {SCHEMA}.users ("id") ON DELETE CASCADE'), ("userIdentifier", "text"),
        ("tags", "text[]"), ("metadata", "jsonb"),
    ),
    "steps": (
        ("id", "text PRIMARY KEY"), ("name", "text NOT NULL"), ("type", "text NOT NULL"),
        ("threadId", f'text NOT NULL REFERENCES {SCHEMA}.threads ("id") ON DELETE CASCADE'),
        ("parentId", "text"), ("streaming", "boolean NOT NULL DEFAULT false"), ("waitForAnswer", "boolean"),
        ("isError", "boolean"), ("metadata", "jsonb"), ("tags", "text[]"), ("input", "text"),
        ("output", "text"), ("createdAt", "text"), ("command", "text"), ("modes", "jsonb"),
        ("start", "text"), ("end", "text"), ("generation", "jsonb"), ("showInput", "text"),
        ("language", "text"), ("indent", "int"), ("defaultOpen", "boolean"), ("autoCollapse", "boolean"),
        ("icon", "text"),
    ),
    "elements": (
        ("id", "text PRIMARY KEY"),
        ("threadId", f'text REFERENCES {SCHEMA}.threads ("id") ON DELETE CASCADE'), ("type", "text"),
        ("url", "text"), ("chainlitKey", "text"), ("name", "text NOT NULL"), ("display", "text"),
        ("objectKey", "text"), ("size", "text"), ("page", "int"), ("language", "text"), ("forId", "text"),
        ("mime", "text"), ("props", "jsonb"), ("autoPlay", "boolean"), ("playerConfig", "jsonb"),
    ),
    "feedbacks": (
        ("id", "text PRIMARY KEY"), ("forId", "text NOT NULL"),
        ("threadId", f'text REFERENCES {SCHEMA}.threads ("id") ON DELETE CASCADE'),
        ("value", "int NOT NULL"), ("comment", "text"),
    ),
}


def _ui_ddl() -> tuple[str, ...]:
    statements = [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"]
    for table, columns in UI_TABLES.items():
        key, key_type = columns[0]
        statements.append(f'CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} ("{key}" {key_type})')
        for name, kind in columns[1:]:
            # NOT NULL without a default cannot be added to a table that has rows: add it nullable.
            loose = kind.replace(" NOT NULL", "") if "DEFAULT" not in kind else kind
            statements.append(f'ALTER TABLE {SCHEMA}.{table} ADD COLUMN IF NOT EXISTS "{name}" {loose}')
    statements.append(f'CREATE INDEX IF NOT EXISTS steps_thread_idx ON {SCHEMA}.steps ("threadId")')
    return tuple(statements)


UI_DDL: tuple[str, ...] = _ui_ddl()


def ensure_ui_schema(engine: Engine) -> None:
    """Create the UI tables, add any column they lack, and the examples table (idempotent; safe
    with concurrent callers)."""
    from chatbot.examples import EXAMPLES_DDL

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
        for statement in (*UI_DDL, *EXAMPLES_DDL):
            conn.execute(text(statement))


_STEP_METADATA = text(f'SELECT "metadata" FROM {SCHEMA}.steps WHERE "id" = :id')


def step_metadata(engine: Engine, step_id: str) -> dict[str, Any]:
    """The metadata Chainlit stored with one message (the app puts question and SQL there)."""
    import json

    with engine.connect() as conn:
        raw = conn.execute(_STEP_METADATA, {"id": step_id}).scalar()
    if isinstance(raw, str):
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else {}


# --- writes kept while the database is away ----------------------------------------------------


class Outbox:
    """Writes the database could not take, oldest first, written when it is back.

    `run(query, params)` performs one write and raises on failure. A write that fails because the
    server is unreachable (retrieval.database.is_unreachable) is queued, and so is every write
    after it until the queue is empty again, so order is kept. A background task retries with a
    growing pause (`first_retry_s` doubling up to `max_retry_s`); a queued write that fails for
    another reason (it would fail again) is logged and dropped rather than block the rest.

    `run_batch(writes)`, when given, performs up to `batch_size` queued writes in one transaction:
    while a backlog drains, every new write queues behind it, so one statement per transaction
    drained slower than 32 busy chats wrote and their history reached the database minutes late.
    A batch the database refuses is rolled back whole and its writes are retried one by one.
    """

    def __init__(self, run: Callable[[str, dict[str, Any]], Awaitable[Any]], *,
                 run_batch: Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[Any]] | None = None,
                 batch_size: int = 200, first_retry_s: float = 0.5, max_retry_s: float = 5.0) -> None:
        self._run = run
        self._run_batch = run_batch
        self.batch_size = max(1, batch_size)
        self._items: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.first_retry_s, self.max_retry_s = first_retry_s, max_retry_s

    @property
    def pending(self) -> int:
        """How many writes wait for the database."""
        return len(self._items)

    async def write(self, query: str, params: dict[str, Any]) -> Any:
        """Write now, or queue (None) when the database is unreachable or writes already wait."""
        if self._items:
            self._queue(query, params)
            return None
        try:
            return await self._run(query, params)
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            log.warning("the database is unreachable; keeping a chat write until it is back")
            self._queue(query, params)
            return None

    async def flush(self) -> bool:
        """Write what waits, oldest first; True when nothing is left, False if the database is
        still unreachable."""
        async with self._lock:
            singles = 0  # writes of a refused batch, now tried one by one
            while self._items:
                if not singles and self._run_batch is not None and len(self._items) > 1:
                    chunk = list(itertools.islice(self._items, self.batch_size))
                    try:
                        await self._run_batch(chunk)
                    except Exception as exc:
                        if is_unreachable(exc):
                            log.debug("the database is still unreachable: %r", exc)
                            return False
                        singles = len(chunk)
                    else:
                        for _ in chunk:
                            self._items.popleft()
                        continue
                query, params = self._items[0]
                try:
                    await self._run(query, params)
                except Exception as exc:
                    if is_unreachable(exc):
                        log.debug("the database is still unreachable: %r", exc)
                        return False
                    log.warning("dropped a kept chat write that the database refused: %s", exc)
                self._items.popleft()
                singles = max(0, singles - 1)
            log.info("the database is back; kept chat writes are stored")
            return True

    async def drained(self) -> None:
        """Wait until the background retry (if any) has finished."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _queue(self, query: str, params: dict[str, Any]) -> None:
        self._items.append((query, dict(params)))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        pause = self.first_retry_s
        while True:
            await asyncio.sleep(pause)
            if await self.flush():
                return
            pause = min(pause * 2, self.max_retry_s)


_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def is_write(query: str) -> bool:
    return bool(_WRITE.match(query))


# --- Chainlit's data layer over asyncpg --------------------------------------------------------


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """asyncpg.connect keyword arguments for a libpq URL, including `?host=/socket/dir` URLs.

    SQLAlchemy's asyncpg dialect does not understand libpq's query-string host, so the parts go
    in as connect_args and the SQLAlchemy URL stays bare (`postgresql+asyncpg://`).
    """
    parts = urlsplit(libpq_url(url))
    if parts.scheme not in ("postgres", "postgresql"):
        raise DatabaseError(f"DATABASE_URL={url!r} is not a PostgreSQL URL; it must start with postgresql://.")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    args: dict[str, Any] = {"server_settings": {"search_path": SCHEMA}}
    host = query.get("host") or (unquote(parts.hostname) if parts.hostname else None)
    if host:
        args["host"] = host
    port = query.get("port") or parts.port
    if port:
        args["port"] = int(port)
    user = query.get("user") or (unquote(parts.username) if parts.username else None)
    if user:
        args["user"] = user
    password = query.get("password") or (unquote(parts.password) if parts.password else None)
    if password:
        args["password"] = password
    database = query.get("dbname") or parts.path.lstrip("/")
    if database:
        args["database"] = unquote(database)
    sslmode = query.get("sslmode")
    if sslmode in ("require", "verify-ca", "verify-full"):
        args["ssl"] = sslmode
    return args


def open_data_layer(url: str) -> Any:
    """Chainlit's SQLAlchemyDataLayer on the `ui` schema of the database at `url`.

    Messages, steps, threads, feedback and our custom elements are persisted; other elements
    (files, images) would need a blob store and are not. While the database is away, writes wait
    in an `Outbox` (`layer.outbox`) and reads of the signed-in user come from what was last read.
    """
    import json
    import warnings

    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.data.utils import queue_until_user_message
    from chainlit.user import PersistedUser
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
    from sqlalchemy.orm import sessionmaker

    class UiDataLayer(SQLAlchemyDataLayer):
        """Keeps custom elements (cards, rows table: their props are the whole content, so they
        need no blob store), and loses nothing while the database restarts: every write is one
        statement (threads and users are upserts that read nothing first), queued when the
        database cannot take it."""

        def __init__(self, connect_args: dict[str, Any]) -> None:
            super().__init__("postgresql+asyncpg://", connect_args=connect_args)
            # connections left from before a restart are tested before use, not failed on
            self.engine = create_async_engine("postgresql+asyncpg://", connect_args=connect_args, pool_pre_ping=True)
            self.async_session = sessionmaker(bind=self.engine, expire_on_commit=False, class_=AsyncSession)  # type: ignore[call-overload]
            self.outbox = Outbox(self._execute, run_batch=self._execute_batch)
            self._users: dict[str, PersistedUser] = {}

        async def _execute(self, query: str, parameters: dict[str, Any]) -> Any:
            async with self.async_session() as session, session.begin():
                result = await session.execute(text(query), parameters)
                if result.returns_rows:
                    return self.clean_result([dict(row._mapping) for row in result.fetchall()])
                return result.rowcount

        async def _execute_batch(self, writes: list[tuple[str, dict[str, Any]]]) -> None:
            async with self.async_session() as session, session.begin():
                for query, parameters in writes:
                    await session.execute(text(query), parameters)

        async def execute_sql(self, query: str, parameters: dict) -> Any:  # type: ignore[override]
            try:
                if is_write(query):
                    return await self.outbox.write(query, parameters)
                return await self._execute(query, parameters)
            except Exception as exc:
                log.warning("chat history: %s", exc if not is_unreachable(exc) else "the database is unreachable")
                return None

        async def get_user(self, identifier: str) -> PersistedUser | None:
            try:
                rows = await self._execute(_GET_USER, {"identifier": identifier})
            except Exception as exc:
                if not is_unreachable(exc):
                    log.warning("chat history: %s", exc)
                return self._users.get(identifier)  # the database is away: who they were
            if not rows:
                return None
            row = rows[0]
            meta = row.get("metadata") or {}
            user = PersistedUser(id=row["id"], identifier=row["identifier"], createdAt=row["createdAt"],
                                 metadata=json.loads(meta) if isinstance(meta, str) else meta)
            self._users[identifier] = user
            return user

        async def create_user(self, user: Any) -> PersistedUser | None:
            await self.execute_sql(_UPSERT_USER, {
                "id": str(uuid.uuid4()), "identifier": str(user.identifier),
                "createdAt": await self.get_current_timestamp(), "metadata": json.dumps(user.metadata or {}),
            })
            return await self.get_user(user.identifier)

        async def update_thread(self, thread_id: str, name: str | None = None, user_id: str | None = None,
                                metadata: dict | None = None, tags: list[str] | None = None) -> None:
            meta = metadata or {}
            keep = {k: v for k, v in meta.items() if v is not None}
            await self.execute_sql(_UPSERT_THREAD, {
                "id": thread_id, "createdAt": await self.get_current_timestamp(),
                "name": name if name is not None else keep.get("name"), "userId": user_id, "tags": tags,
                "metadata": json.dumps(keep), "drop": [k for k, v in meta.items() if v is None],
            })

        @queue_until_user_message()
        async def create_element(self, element: Any) -> None:
            if element.type != "custom" or self.storage_provider is not None:
                return await super().create_element(element)  # type: ignore[no-any-return]
            if not element.for_id:
                return None
            await self.execute_sql(_SAVE_ELEMENT, {
                "id": element.id, "threadId": element.thread_id, "type": element.type,
                "name": element.name, "display": element.display, "size": element.size,
                "forId": element.for_id, "mime": element.mime, "props": json.dumps(element.props),
            })
            return None

        async def close(self) -> None:
            await self.outbox.flush()
            await super().close()

    # Quiet Chainlit's "no storage client, elements will not be persisted": ours are.
    chainlit_log = logging.getLogger("chainlit")
    level = chainlit_log.level
    chainlit_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return UiDataLayer(asyncpg_connect_args(url))
    finally:
        chainlit_log.setLevel(level)


_GET_USER = 'SELECT * FROM users WHERE "identifier" = :identifier'

_UPSERT_USER = """
    INSERT INTO users ("id", "identifier", "createdAt", "metadata")
    VALUES (:id, :identifier, :createdAt, CAST(:metadata AS jsonb))
    ON CONFLICT ("identifier") DO UPDATE SET "metadata" = EXCLUDED."metadata"
"""

# One statement, reading nothing first (Chainlit's version reads the row, then writes: wrong
# when the read fails). Only what is given changes; metadata keys set to None are removed.
_UPSERT_THREAD = """
    INSERT INTO threads ("id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata")
    VALUES (:id, :createdAt, :name, CAST(:userId AS text),
            (SELECT u."identifier" FROM users u WHERE u."id" = CAST(:userId AS text)),
            CAST(:tags AS text[]), CAST(:metadata AS jsonb))
    ON CONFLICT ("id") DO UPDATE SET
        "name" = COALESCE(EXCLUDED."name", threads."name"),
        "userId" = COALESCE(EXCLUDED."userId", threads."userId"),
        "userIdentifier" = COALESCE(EXCLUDED."userIdentifier", threads."userIdentifier"),
        "tags" = COALESCE(EXCLUDED."tags", threads."tags"),
        "metadata" = (COALESCE(threads."metadata", '{}'::jsonb) || EXCLUDED."metadata") - CAST(:drop AS text[])
"""

_SAVE_ELEMENT = """
    INSERT INTO elements ("id", "threadId", "type", "name", "display", "size", "forId", "mime", "props")
    VALUES (:id, :threadId, :type, :name, :display, :size, :forId, :mime, :props)
    ON CONFLICT ("id") DO UPDATE SET "props" = EXCLUDED."props", "forId" = EXCLUDED."forId"
"""


_TITLES_IN_USE = text(f"""
    SELECT "name" FROM {SCHEMA}.threads
    WHERE "userIdentifier" = :user AND "id" <> :thread AND ("name" = :title OR "name" LIKE :numbered)
""")


def unique_title(engine: Engine, user: str, thread_id: str, title: str) -> str:
    """`title`, or `title (2)`, `(3)`, … when this person already has chats of that name."""
    numbered = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + " (%)"
    with engine.connect() as conn:
        names = set(conn.execute(_TITLES_IN_USE, {"user": user, "thread": thread_id, "title": title,
                                                  "numbered": numbered}).scalars())
    if title not in names:
        return title
    n = 2
    while f"{title} ({n})" in names:
        n += 1
    return f"{title} ({n})"
