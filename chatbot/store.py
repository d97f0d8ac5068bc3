"""What the chat UI keeps in Postgres, in its own schema `ui` beside the catalog: Chainlit's
data-layer tables (users, threads, steps, elements, feedbacks: chat history and thumbs). The
verified SQL examples a thumbs-up creates are chatbot/examples.py's (created here too).

The tables follow the shape `chainlit.data.sql_alchemy.SQLAlchemyDataLayer` reads and writes
(camelCase quoted columns); `open_data_layer` points that data layer at this schema through
asyncpg, which also reaches the embedded server's Unix socket.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Engine, text

from retrieval.database import DatabaseError, libpq_url

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
    (files, images) would need a blob store and are not.
    """
    import json
    import warnings

    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.data.utils import queue_until_user_message

    class UiDataLayer(SQLAlchemyDataLayer):
        """Also keeps custom elements (cards, rows table): their props are the whole content,
        so they need no blob store and come back when a chat is resumed."""

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

    # Quiet Chainlit's "no storage client, elements will not be persisted": ours are.
    chainlit_log = logging.getLogger("chainlit")
    level = chainlit_log.level
    chainlit_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return UiDataLayer("postgresql+asyncpg://", connect_args=asyncpg_connect_args(url))
    finally:
        chainlit_log.setLevel(level)


_SAVE_ELEMENT = """
    INSERT INTO elements ("id", "threadId", "type", "name", "display", "size", "forId", "mime", "props")
    VALUES (:id, :threadId, :type, :name, :display, :size, :forId, :mime, :props)
    ON CONFLICT ("id") DO UPDATE SET "props" = EXCLUDED."props", "forId" = EXCLUDED."forId"
"""
