"""Verified (question, SQL) examples: what a thumbs-up on an SQL answer teaches the SQL drafter.

Each example belongs to the person who approved it and reaches only that person's drafting
prompt, unless an admin promotes it (then everyone's prompt shows it). What is kept is the SQL
the guard regenerated from the accepted draft (no comments, one canonical form), with each
bound vector parameter written back as `embed('phrase')` — the form the drafting prompt teaches
— never the model's raw text.

The table lives in the UI's schema (`ui.sql_examples`) beside the chat history; this module
needs no Chainlit, so the graph's wiring reads examples without importing the UI store.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

SCHEMA = "ui"

EXAMPLES_DDL: tuple[str, ...] = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.sql_examples (
        id bigserial PRIMARY KEY,
        owner text NOT NULL,
        question text NOT NULL,
        sql text NOT NULL,
        promoted boolean NOT NULL DEFAULT false,
        thread_id text,
        step_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner, question, sql)
    )""",
)
"""The old shared `ui.verified_sql` table (raw drafts, shown to everyone) is left unread."""

_SAVE = text(f"""
    INSERT INTO {SCHEMA}.sql_examples (owner, question, sql, thread_id, step_id)
    VALUES (:owner, :question, :sql, :thread_id, :step_id)
    ON CONFLICT (owner, question, sql) DO UPDATE
      SET created_at = now(), thread_id = EXCLUDED.thread_id, step_id = EXCLUDED.step_id
""")
_REMOVE = text(f"DELETE FROM {SCHEMA}.sql_examples WHERE owner = :owner AND step_id = :step_id")
_PROMOTE = text(f"UPDATE {SCHEMA}.sql_examples SET promoted = :promoted WHERE id = :id")
_FOR = text(f"""
    SELECT question, sql FROM {SCHEMA}.sql_examples
    WHERE owner = :owner OR promoted
    ORDER BY (owner = :owner) DESC, created_at DESC, id DESC LIMIT :limit
""")
_ALL = text(f"""
    SELECT id, owner, promoted, question, sql, created_at FROM {SCHEMA}.sql_examples
    ORDER BY promoted DESC, created_at DESC, id DESC LIMIT :limit
""")
_PROMOTED = text(f"""
    SELECT question, sql FROM {SCHEMA}.sql_examples WHERE promoted
    ORDER BY created_at DESC, id DESC LIMIT :limit
""")


def ensure_examples_schema(engine: Engine) -> None:
    """Create the examples table if it is missing (idempotent)."""
    with engine.begin() as conn:
        for statement in EXAMPLES_DDL:
            conn.execute(text(statement))


def example_sql(accepted_draft: str) -> str:
    """The form an approved draft is kept in: the guard's regenerated SQL (comments gone), with
    each vector parameter put back as `embed('phrase')`. Raises UnsafeSQL if the guard refuses it."""
    from retrieval.sqlguard import check_sql

    guarded = check_sql(accepted_draft)
    sql = guarded.readable
    for name, phrase in guarded.phrases.items():
        sql = _put_back(sql, name, "embed('" + phrase.replace("'", "''") + "')")
    return sql.strip()


def _put_back(sql: str, name: str, literal: str) -> str:
    return re.sub(rf"%\({re.escape(name)}\)s(?:\s*::\s*vector)?", lambda _m: literal, sql)


def save_example(
    engine: Engine, *, owner: str, question: str, sql: str, thread_id: str | None = None,
    step_id: str | None = None,
) -> str:
    """Keep an approved pair for `owner` (saving it again refreshes it); returns the SQL kept."""
    question, owner = question.strip(), owner.strip()
    if not question or not sql.strip() or not owner:
        raise ValueError("A verified example needs an owner, a question and its SQL.")
    kept = example_sql(sql)
    with engine.begin() as conn:
        conn.execute(_SAVE, {"owner": owner, "question": question, "sql": kept, "thread_id": thread_id, "step_id": step_id})
    return kept


def remove_example(engine: Engine, *, owner: str, step_id: str) -> int:
    """Forget what `owner`'s thumbs-up on message `step_id` saved (they changed their mind)."""
    with engine.begin() as conn:
        return conn.execute(_REMOVE, {"owner": owner, "step_id": step_id}).rowcount or 0


def promote(engine: Engine, example_id: int, *, promoted: bool = True) -> bool:
    """An admin's decision: show (or stop showing) one example in every person's prompt."""
    with engine.begin() as conn:
        return bool(conn.execute(_PROMOTE, {"id": example_id, "promoted": promoted}).rowcount)


def list_examples(engine: Engine, limit: int = 200) -> list[dict[str, object]]:
    """Every kept example (promoted first, newest first), for the admin who decides what to
    promote; [] before the table exists."""
    from sqlalchemy.exc import ProgrammingError

    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(_ALL, {"limit": limit})]
    except ProgrammingError:
        return []


def examples_for(engine: Engine, owner: str | None, limit: int = 5) -> list[tuple[str, str]]:
    """The pairs `owner`'s drafting prompt shows: their own first, then promoted ones, newest
    first; only promoted ones without an owner; [] before the table exists."""
    from sqlalchemy.exc import ProgrammingError

    try:
        with engine.connect() as conn:
            rows = conn.execute(_FOR, {"owner": owner, "limit": limit}) if owner else \
                conn.execute(_PROMOTED, {"limit": limit})
            return [(r.question, r.sql) for r in rows]
    except ProgrammingError:  # the table does not exist yet: no examples
        log.debug("no verified examples table yet", exc_info=True)
        return []
