"""The one place that builds real clients from settings (database, embedder, catalog)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from chatbot.settings import Settings
from retrieval.database import DatabaseError, make_engine, start_embedded
from retrieval.replica import ReadRouter
from retrieval.schema import create_schema


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise start (or reuse) the embedded server under MOVIE_RAG_HOME."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.pgdata)


VERIFIED_EXAMPLES_IN_PROMPT = 5
"""How many approved (question, SQL) pairs from the chat UI the SQL drafting prompt shows."""


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    create_schema(engine)
    return engine


def engine(settings: Settings) -> Engine:
    """A pooled engine on the configured database, with the schema created (once per process)."""
    return _engine_for(database_url(settings))


@lru_cache(maxsize=4)
def _router_for(url: str, read_url: str | None) -> ReadRouter:
    return ReadRouter(url, read_url, primary=_engine_for(url))


def read_router(settings: Settings) -> ReadRouter:
    """Catalog reads: the standby of DATABASE_READ_URL when set and answering, else the primary."""
    return _router_for(database_url(settings), settings.database_read_url)


@lru_cache(maxsize=2)
def _embedder_for(model: str | None):  # type: ignore[no-untyped-def]
    from retrieval.embeddings import load_embedder

    return load_embedder(model)


def embedder(settings: Settings):  # type: ignore[no-untyped-def]
    """The sentence embedder (loaded once per process)."""
    return _embedder_for(settings.embedding_model)


class GuardAdapter:
    """retrieval.sqlguard bound to one database and the configured limits (the `SqlGuard` Protocol).

    With a `router` that has a standby, queries run there and fall back to the primary (`db_url`)
    when the standby cannot be reached.
    """

    def __init__(
        self, db_url: str, *, row_cap: int, timeout_ms: int, reader_url: str | None = None,
        router: ReadRouter | None = None,
    ):
        self.db_url, self.row_cap, self.timeout_ms = db_url, row_cap, timeout_ms
        self.reader_url, self.router = reader_url, router

    def check(self, sql: str):  # type: ignore[no-untyped-def]
        from retrieval.sqlguard import check_sql

        return check_sql(sql, row_cap=self.row_cap)

    def run(self, sql: str, params):  # type: ignore[no-untyped-def]
        from retrieval.sqlguard import run_readonly

        router = self.router
        if router is not None and router.read_url and self.reader_url is None and not router.standby_suspended():
            try:
                return run_readonly(
                    sql, params, db=router.read_url, timeout_ms=self.timeout_ms, row_cap=self.row_cap,
                )
            except DatabaseError as exc:
                router.suspend_standby(exc)
        return run_readonly(
            sql, params, db=self.db_url, timeout_ms=self.timeout_ms, row_cap=self.row_cap,
            reader_url=self.reader_url,
        )


async def open_checkpointer(db_url: str):  # type: ignore[no-untyped-def]
    """LangGraph's Postgres checkpointer on a small async pool; returns (saver, close)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from retrieval.database import libpq_url

    # `check`: a connection left from before a database restart is tested and replaced, not
    # handed to a turn that would fail on it; `timeout`: while the database is away a turn
    # fails within seconds (with a sentence) instead of waiting half a minute for a connection.
    pool = AsyncConnectionPool(
        libpq_url(db_url), min_size=1, max_size=10, open=False, timeout=10,
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    from chatbot.state import checkpoint_serde

    saver = AsyncPostgresSaver(pool, serde=checkpoint_serde())  # type: ignore[arg-type]
    async with pool.connection() as conn:
        # Two processes setting up at once would race on the migrations table.
        await conn.execute("SELECT pg_advisory_lock(727002)")
        try:
            await saver.setup()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(727002)")
    return saver, pool.close


async def open_deps(settings: Settings):  # type: ignore[no-untyped-def]
    """Real dependencies for the graph: (Deps, checkpointer, async closers)."""
    import asyncio
    from functools import partial

    from chatbot.deps import BLEND, Deps
    from chatbot.examples import examples_for
    from retrieval.profiles import EmbedderCache
    from retrieval.recommend import recommend_hits
    from retrieval.search import PgCatalog
    from retrieval.users import rate, ratings_of

    url = await asyncio.to_thread(database_url, settings)
    eng = await asyncio.to_thread(_engine_for, url)  # the URL is resolved once, above
    router = await asyncio.to_thread(_router_for, url, settings.database_read_url)
    emb = await asyncio.to_thread(embedder, settings)
    closers = []
    chat = None
    if settings.llm == "ollama":
        from chatbot.llm import ChatCascade, LLMConfig

        chat = ChatCascade(LLMConfig.from_settings(settings))
        closers.append(chat.aclose)
    checkpointer, close_pool = await open_checkpointer(url)
    closers.append(close_pool)
    deps = Deps(
        catalog=PgCatalog(router.engine, emb, embedders=EmbedderCache(settings.home, emb)),
        embedder=emb,
        chat=chat,
        sql=GuardAdapter(
            url, row_cap=settings.sql_row_cap, timeout_ms=settings.sql_timeout_ms,
            reader_url=settings.sql_reader_url, router=router,
        ),
        recommend=partial(recommend_hits, eng),
        rate=partial(rate, eng),
        ratings=partial(ratings_of, eng),
        examples=partial(examples_for, eng, None, VERIFIED_EXAMPLES_IN_PROMPT),
        k=settings.k,
        sql_mode=settings.sql_mode,
        llm_routing=settings.llm_routing,
        row_cap=settings.sql_row_cap,
    )
    if await asyncio.to_thread(_has_ratings, router.engine):
        # "movies like X" by the blend, measured better than any one profile (retrieval/profiles_blend.py)
        deps = deps.with_options({"profile": BLEND})
    return deps, checkpointer, closers


def _has_ratings(engine: Engine) -> bool:
    """MovieLens ratings are loaded: the blend's co-liking has something to add."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM ratings)")).scalar_one())
    except SQLAlchemyError:  # no ratings table yet: nothing to blend
        return False
