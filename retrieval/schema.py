"""The catalog schema: typed SQLAlchemy 2 tables, created idempotently.

`movies` is the relation the LLM sees (DESIGN.md "Contracts"); `ratings` holds MovieLens ratings.
"""

from __future__ import annotations

import pgvector.sqlalchemy  # noqa: F401  (registers `vector` for reflection)
from pgvector.sqlalchemy import SPARSEVEC, VECTOR
from sqlalchemy import (
    BigInteger,
    Computed,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

EMBEDDING_DIM = 384


class Base(DeclarativeBase):
    pass


# Full-text document: names are indexed with the `simple` config so "Hanks" stays "hanks";
# the summary gets English stemming. `people` exists because array_to_string is not immutable
# and a generated column may only use immutable functions.
_SEARCH_DOC = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(people, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(summary, '')), 'C')"
)


class Movie(Base):
    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(Text, unique=True)
    """Stable identity across re-ingests: `imdb:<n>`, `ml:<n>` or `title:<title>|<year>`."""
    imdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    movielens_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(Text)
    duration_min: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    genres: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    director: Mapped[str | None] = mapped_column(Text)
    writers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    actors: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    poster_url: Mapped[str | None] = mapped_column(Text)
    avg_rating: Mapped[float | None] = mapped_column(Float)
    num_ratings: Mapped[int | None] = mapped_column(Integer)
    people: Mapped[str | None] = mapped_column(Text)
    """Director, writers and actors joined by ' ; ' (feeds full-text search)."""
    source: Mapped[str] = mapped_column(String(32))
    """Which ingest made the row: course, plots, movielens, demo."""
    embedding_text: Mapped[str | None] = mapped_column(Text)
    """The exact text that was embedded; a change triggers re-embedding."""
    embedding: Mapped[list[float] | None] = mapped_column(VECTOR(EMBEDDING_DIM))
    search_doc: Mapped[str] = mapped_column(TSVECTOR, Computed(_SEARCH_DOC, persisted=True))

    __table_args__ = (
        Index(
            "movies_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("movies_search_doc_gin", "search_doc", postgresql_using="gin"),
        Index("movies_title_lower", text("lower(title)")),
        Index("movies_year", "year"),
    )


class Rating(Base):
    __tablename__ = "ratings"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[float] = mapped_column(Float)
    rated_at: Mapped[int | None] = mapped_column(BigInteger)
    """Unix seconds, as MovieLens gives them."""

    __table_args__ = (Index("ratings_movie", "movie_id"),)


USER_VECTOR_DIM = 1_000_000_000
"""D of `users.ratings`: one dimension per `movies.id` (the index is the id itself), so D is the
largest sparsevec dimension pgvector allows; a film id above it could not be rated (ids are a serial
and never get there)."""

HNSW_SPARSE_MAX_NNZ = 1000
"""pgvector's HNSW index on sparsevec holds vectors with at most this many non-zero elements;
`users_centred_hnsw` is partial (nnz <= 1000) and heavier users are scanned exactly beside it."""


class User(Base):
    """A MovieLens user as a sparse vector over movie ids, rebuilt from `ratings` at ingest
    (retrieval/users.py explains the centring)."""

    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n_ratings: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    """What the user's ratings are centred on (their mean, or 3.0 when it says nothing)."""
    nnz: Mapped[int] = mapped_column(Integer)
    """Non-zero elements of `centred` (decides index or exact scan)."""
    ratings: Mapped[object] = mapped_column(SPARSEVEC(USER_VECTOR_DIM))
    """The ratings as given: dimension = movies.id, value = stars."""
    centred: Mapped[object] = mapped_column(SPARSEVEC(USER_VECTOR_DIM))
    """rating - baseline per film: what nearest-user search compares (cosine = Pearson-like)."""
    profile: Mapped[list[float] | None] = mapped_column(VECTOR(EMBEDDING_DIM))
    """Dense taste: centred-rating-weighted mean of the liked films' embeddings."""

    __table_args__ = (
        Index(
            "users_centred_hnsw", "centred", postgresql_using="hnsw",
            postgresql_ops={"centred": "sparsevec_cosine_ops"},
            postgresql_where=text(f"nnz BETWEEN 1 AND {HNSW_SPARSE_MAX_NNZ}"),
        ),
        Index(
            "users_profile_hnsw", "profile", postgresql_using="hnsw",
            postgresql_ops={"profile": "vector_cosine_ops"},
        ),
    )


class PersonRating(Base):
    """Stars a person gave in the chat UI or CLI, keyed by who they are (UI user or thread)."""

    __tablename__ = "person_ratings"

    owner: Mapped[str] = mapped_column(Text, primary_key=True)
    movie_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[float] = mapped_column(Float)
    rated_at: Mapped[object] = mapped_column(TIMESTAMP(timezone=True), server_default=text("now()"))


# Columns the LLM may see and select (everything but bookkeeping); order as in DESIGN.md.
LLM_COLUMNS = (
    "id", "title", "year", "country", "language", "duration_min", "summary", "genres",
    "director", "writers", "actors", "poster_url", "avg_rating", "num_ratings", "embedding",
)

_SETUP_LOCK = 727_001  # advisory lock key: two processes creating the schema at once wait

# Keep vectors inside the table row (STORAGE MAIN) instead of the default out-of-line TOAST:
# a scan then reads ~160 pages instead of ~3900 for the course catalog, and `similar` takes
# 0.4 ms instead of 8. Rows written before the change keep their storage until rewritten.
_EMBEDDING_INLINE = """
DO $do$
BEGIN
  IF (SELECT attstorage FROM pg_attribute
      WHERE attrelid = 'movies'::regclass AND attname = 'embedding') <> 'm' THEN
    ALTER TABLE movies ALTER COLUMN embedding SET STORAGE MAIN;
  END IF;
END
$do$
"""


def create_schema(engine: Engine) -> None:
    """Create the `vector` extension and every table and index; safe to run any number of times."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SETUP_LOCK})
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        Base.metadata.create_all(conn)
        conn.execute(text(_EMBEDDING_INLINE))
        _after_create(conn)


def _after_create(conn: Connection) -> None:
    """Hook for objects SQLAlchemy metadata does not describe (roles, grants)."""
    _create_llm_reader(conn)


# The read-only side of LLM-drafted SQL (retrieval/sqlguard.py): view `llm.movies` with exactly
# LLM_COLUMNS and the login role `movie_rag_reader` that may SELECT only that view. The role is
# cluster-wide, so several databases may race to create it: the DO block swallows "exists".
_READER_ROLE_SQL = """
DO $do$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'movie_rag_reader')
     AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
    BEGIN
      CREATE ROLE movie_rag_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
        NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 32;
      ALTER ROLE movie_rag_reader SET default_transaction_read_only = on;
      ALTER ROLE movie_rag_reader SET statement_timeout = '2s';
      ALTER ROLE movie_rag_reader SET search_path = llm, public;
      ALTER ROLE movie_rag_reader SET idle_in_transaction_session_timeout = '10s';
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$do$
"""

_READER_GRANTS_SQL = """
DO $do$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'movie_rag_reader') THEN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO movie_rag_reader', current_database());
    REVOKE ALL ON SCHEMA llm FROM PUBLIC;
    GRANT USAGE ON SCHEMA llm TO movie_rag_reader;
    REVOKE ALL ON llm.movies FROM PUBLIC;
    GRANT SELECT ON llm.movies TO movie_rag_reader;
  END IF;
END
$do$
"""


def _create_llm_reader(conn: Connection) -> None:
    import logging

    from sqlalchemy.exc import DBAPIError

    columns = ", ".join(LLM_COLUMNS)
    try:
        with conn.begin_nested():
            conn.execute(text(_READER_ROLE_SQL))
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS llm"))
            table_schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            quoted = conn.execute(text("SELECT quote_ident(:s)"), {"s": table_schema}).scalar_one()
            conn.execute(text(f"CREATE OR REPLACE VIEW llm.movies AS SELECT {columns} FROM {quoted}.movies"))
            conn.execute(text(_READER_GRANTS_SQL))
    except DBAPIError as exc:
        logging.getLogger(__name__).warning(
            "Could not set up the read-only role for LLM SQL (%s); a DBA can run the statements "
            "in retrieval/sqlguard.py's docstring.", str(exc.orig).strip().splitlines()[0]
        )
