"""The one place that builds real clients from settings (database, embedder, catalog)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from chatbot.settings import Settings
from retrieval.database import make_engine, start_embedded
from retrieval.schema import create_schema


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise start (or reuse) the embedded server under MOVIE_RAG_HOME."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.pgdata)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    create_schema(engine)
    return engine


def engine(settings: Settings) -> Engine:
    """A pooled engine on the configured database, with the schema created (once per process)."""
    return _engine_for(database_url(settings))


@lru_cache(maxsize=2)
def _embedder_for(model: str | None):  # type: ignore[no-untyped-def]
    from retrieval.embeddings import load_embedder

    return load_embedder(model)


def embedder(settings: Settings):  # type: ignore[no-untyped-def]
    """The sentence embedder (loaded once per process)."""
    return _embedder_for(settings.embedding_model)
