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
    titles_aka: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    """Alternative titles a person may know the film by (MovieLens's "Amelie", "Se7en"), for
    title lookup only: answers and citations show `title`."""
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

# Columns added after catalogs were made (create_all leaves existing tables alone). ALTER TABLE's
# exclusive lock is taken only when the column is missing, so a running catalog's readers never
# queue behind it again; a constant default does not rewrite the table.
_ADDED_COLUMNS = """
DO $do$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'movies'::regclass
                 AND attname = 'titles_aka' AND NOT attisdropped) THEN
    ALTER TABLE movies ADD COLUMN titles_aka text[] NOT NULL DEFAULT '{}';
  END IF;
END
$do$
"""


MIN_PGVECTOR = (0, 8, 4)
"""Oldest pgvector extension the catalog runs on (HNSW iterative scans, binary_quantize fixes)."""


def check_pgvector(conn: Connection) -> str:
    """The installed `vector` extension's version; `DatabaseError` naming it when too old."""
    from retrieval.database import DatabaseError

    found = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    if found is None:
        raise DatabaseError("The pgvector extension is not installed in this database; install pgvector 0.8.4 or newer on the server.")
    parts = tuple(int(p) if p.isdigit() else 0 for p in str(found).split("-")[0].split("."))
    if parts < MIN_PGVECTOR:
        want = ".".join(map(str, MIN_PGVECTOR))
        raise DatabaseError(
            f"The database has pgvector {found}, but movie-rag needs {want} or newer: install "
            f"pgvector {want}+ on the server, then run ALTER EXTENSION vector UPDATE; in the catalog "
            "database."
        )
    return str(found)


def create_schema(engine: Engine) -> None:
    """Create the `vector` extension and every table and index; safe to run any number of times.

    Raises `retrieval.database.DatabaseError` when the server's pgvector is older than 0.8.4."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SETUP_LOCK})
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        check_pgvector(conn)
        Base.metadata.create_all(conn)
        conn.execute(text(_ADDED_COLUMNS))
        conn.execute(text(_EMBEDDING_INLINE))
        _create_plan_support(conn)
        _after_create(conn)


# --- query plans (retrieval/compile.py) ---------------------------------------------------------
# Name conditions compare folded values (lower case, accents off, curly apostrophes straight) as
# whole elements: `movie_rag_fold_array(actors) @> ...`. The functions are IMMUTABLE so GIN
# expression indexes can serve them; their bodies must never change meaning without a REINDEX,
# so the accent table is a literal here, not computed at import.
_FOLD_FROM = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģ"
    "ĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžØøŁłĐđĦħıŦŧ’‘ʼ"
)
_FOLD_TO = (
    "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGg"
    "HhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoLlDdHhiTt"
    + "'" * 3
)

PLAN_SUPPORT_SQL = (
    # Pure ASCII text (octet length = character length) skips the accent table: translate() over
    # a 259-character table costs ~25 us a row, the fast path under 1; both give the same result.
    "CREATE OR REPLACE FUNCTION movie_rag_fold(t text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$ SELECT btrim(lower(CASE WHEN octet_length(t) = "
    "length(t) THEN t ELSE replace(replace(replace("
    f"translate(t, '{_FOLD_FROM}', '{_FOLD_TO.replace(chr(39), chr(39) * 2)}'), "
    "'ß', 'ss'), 'Æ', 'AE'), 'æ', 'ae') END)) $f$",
    # Elements joined by the unit separator, folded once, split again: one call per row.
    "CREATE OR REPLACE FUNCTION movie_rag_fold_array(a text[]) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT coalesce(string_to_array("
    "@.movie_rag_fold(array_to_string(a, chr(31))), chr(31)), '{}') $f$",
    # A text column holding a comma-separated list (director, country, language).
    "CREATE OR REPLACE FUNCTION movie_rag_fold_list(t text) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT coalesce("
    r"regexp_split_to_array(@.movie_rag_fold(t), '\s*,\s*'), '{}') $f$",
    # A LIKE pattern for "contains the folded text" (its wildcards escaped).
    "CREATE OR REPLACE FUNCTION movie_rag_contains(t text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$ SELECT '%' || replace(replace(replace("
    r"@.movie_rag_fold(t), '\', '\\'), '%', '\%'), '_', '\_') || '%' $f$",
    "CREATE OR REPLACE FUNCTION movie_rag_fold_people(director text, writers text[], actors text[]) "
    "RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT @.movie_rag_fold_list(director) "
    "|| @.movie_rag_fold_array(writers) || @.movie_rag_fold_array(actors) $f$",
)
"""`@`: the schema holding the functions (bodies run under CREATE INDEX's own search_path)."""
PLAN_NAME_EXPRESSIONS: dict[str, str] = {
    "genres": "movie_rag_fold_array({m}genres)",
    "directors": "movie_rag_fold_list({m}director)",
    "actors": "movie_rag_fold_array({m}actors)",
    "writers": "movie_rag_fold_array({m}writers)",
    "people": "movie_rag_fold_people({m}director, {m}writers, {m}actors)",
    "countries": "movie_rag_fold_list({m}country)",
    "languages": "movie_rag_fold_list({m}language)",
}
"""Filters field -> the folded text[] a `Names` condition compares with (`{m}`: "alias." or "").
Each has a GIN index on exactly this expression, so name conditions are index lookups."""


def _create_plan_support(conn: Connection) -> None:
    """The fold functions and their indexes; CREATE OR REPLACE / IF NOT EXISTS, so idempotent."""
    assert len(_FOLD_FROM) == len(_FOLD_TO), "the accent table must map one character to one"
    schema = conn.execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    for statement in PLAN_SUPPORT_SQL:
        conn.execute(text(statement.replace("@.", f"{schema}.")))
    for name, expression in PLAN_NAME_EXPRESSIONS.items():
        # fastupdate off: a bulk ingest otherwise leaves thousands of entries in the pending list,
        # which every lookup scans linearly until a VACUUM (15 ms instead of 1 for "comedies").
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS movies_plan_{name} ON movies USING gin (({expression.format(m='')})) "
            "WITH (fastupdate = off)"
        ))
    _create_title_trigrams(conn)
    for column in ("duration_min", "avg_rating", "num_ratings"):  # sort keys and thresholds
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS movies_plan_{column} ON movies ({column})"))


def _create_title_trigrams(conn: Connection) -> None:
    """A trigram index for title substrings, where pg_trgm can be installed (else a scan)."""
    from sqlalchemy.exc import DBAPIError

    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(text(
                "CREATE INDEX IF NOT EXISTS movies_plan_title ON movies "
                "USING gin ((movie_rag_fold(title)) gin_trgm_ops) WITH (fastupdate = off)"
            ))
    except DBAPIError as exc:
        import logging

        logging.getLogger(__name__).info("No trigram index for titles (%s)", str(exc.orig).strip().splitlines()[0])


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

# Reader sessions report no query text in pg_stat_activity (one chat user's SQL is invisible to
# the next); only a superuser may set it, so other app roles leave it to the DBA.
_READER_QUIET_SQL = """
DO $do$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'movie_rag_reader')
     AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE movie_rag_reader SET track_activities = off;
  END IF;
END
$do$
"""

# Functions PostgreSQL grants to PUBLIC that let one reader session act on another: signalling
# (pg_cancel_backend / pg_terminate_backend work on any session of the same role) and advisory
# locks (one chat user's query could block the next). EXECUTE is per database, so this closes
# them for the catalog database only; only a superuser (the embedded server's app role) may
# revoke them, and the database owner and the role running this get them back explicitly, so the
# app's own advisory locks (schema setup, ingest) keep working for a non-superuser owner.
_READER_SIGNALS_SQL = """
DO $do$
DECLARE
  fn regprocedure;
  owner_role name := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'movie_rag_reader')
     AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    FOR fn IN
      SELECT p.oid::regprocedure FROM pg_proc p
      WHERE p.pronamespace = 'pg_catalog'::regnamespace
        AND (p.proname IN ('pg_cancel_backend', 'pg_terminate_backend') OR p.proname LIKE 'pg%advisory%')
    LOOP
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, owner_role);
      IF owner_role <> current_user THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, current_user);
      END IF;
    END LOOP;
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
            conn.execute(text(_READER_QUIET_SQL))
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS llm"))
            table_schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            quoted = conn.execute(text("SELECT quote_ident(:s)"), {"s": table_schema}).scalar_one()
            conn.execute(text(f"CREATE OR REPLACE VIEW llm.movies AS SELECT {columns} FROM {quoted}.movies"))
            conn.execute(text(_READER_GRANTS_SQL))
            conn.execute(text(_READER_SIGNALS_SQL))
    except DBAPIError as exc:
        logging.getLogger(__name__).warning(
            "Could not set up the read-only role for LLM SQL (%s); a DBA can run the statements "
            "in docs/sql-reader.md.", str(exc.orig).strip().splitlines()[0]
        )
