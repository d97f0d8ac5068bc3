import warnings

import pytest
from sqlalchemy import inspect, text

from retrieval.database import make_engine
from retrieval.schema import EMBEDDING_DIM, LLM_COLUMNS, create_schema

pytestmark = pytest.mark.integration


def test_schema_is_idempotent_and_reflects_vector_without_warning(new_database):
    engine = make_engine(new_database("schema"))
    create_schema(engine)
    create_schema(engine)  # second run changes nothing and does not fail
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        columns = {c["name"]: c for c in inspect(engine).get_columns("movies")}
    assert set(LLM_COLUMNS) <= set(columns)
    assert type(columns["embedding"]["type"]).__name__ == "VECTOR"
    assert columns["embedding"]["type"].dim == EMBEDDING_DIM
    with engine.connect() as conn:
        indexes = {r[0]: r[1] for r in conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename='movies'"))}
    assert "USING hnsw (embedding vector_cosine_ops)" in indexes["movies_embedding_hnsw"]
    engine.dispose()


def test_schema_adds_alternative_titles_to_a_catalog_made_before_them(new_database):
    engine = make_engine(new_database("schema_old"))
    create_schema(engine)
    with engine.begin() as conn:  # the catalog as it was before the column
        conn.execute(text("ALTER TABLE movies DROP COLUMN titles_aka"))
        conn.execute(text("INSERT INTO movies (source_key, title, source) VALUES ('title:heat|', 'Heat', 'native')"))
    create_schema(engine)
    create_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title, titles_aka FROM movies")).one() == ("Heat", [])
        nullable = conn.execute(text(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'movies' AND column_name = 'titles_aka'"
        )).scalar_one()
    assert nullable == "NO"
    engine.dispose()
