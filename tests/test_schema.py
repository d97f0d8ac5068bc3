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
