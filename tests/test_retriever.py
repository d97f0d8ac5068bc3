"""The LangChain retriever returns the catalog search as Documents, sync and async."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from retrieval.retriever import CatalogRetriever, hit_document, hit_text
from retrieval.types import MovieHit, SearchFilters


class FakeCatalog:
    """Records calls; returns fixed hits."""

    def __init__(self, hits):
        self.hits = hits
        self.calls = []
        self.profiles = []

    def search(self, text, *, mode="hybrid", k=10, filters=None, vector=None, profile=None):
        self.calls.append((text, mode, k, filters))
        self.profiles.append(profile)
        return self.hits[:k]


HITS = [
    MovieHit(id=7, title="Cast Away", year=2000, score=0.032, distance=0.61, genres=("Drama",),
             director="Robert Zemeckis", actors=("Tom Hanks", "Helen Hunt"),
             summary="A courier is stranded on an island.", duration_min=143),
    MovieHit(id=3, title="Up", year=None, score=0.016),
]


def test_hit_text_is_readable():
    assert hit_text(HITS[0]) == (
        "Cast Away (2000)\nGenres: Drama\nDirected by: Robert Zemeckis\n"
        "Starring: Tom Hanks, Helen Hunt\nRuntime: 143 min\nSummary: A courier is stranded on an island."
    )
    assert hit_text(HITS[1]) == "Up"


def test_sync_retrieval_passes_settings_and_returns_documents():
    catalog = FakeCatalog(HITS)
    filters = SearchFilters(year_min=1990)
    retriever = CatalogRetriever(catalog=catalog, k=1, mode="dense", filters=filters)
    docs = retriever.invoke("stranded on an island")
    assert catalog.calls == [("stranded on an island", "dense", 1, filters)]
    assert docs == [hit_document(HITS[0])]
    assert docs[0].metadata == HITS[0].full()
    assert docs[0].metadata["actors"] == ["Tom Hanks", "Helen Hunt"]
    assert docs[0].id == "7"


def test_per_call_k_mode_and_filters_override_the_retriever_settings():
    catalog = FakeCatalog(HITS)
    filters = SearchFilters(genres=("Drama",))
    retriever = CatalogRetriever(catalog=catalog)
    assert len(retriever.invoke("island", k=1)) == 1
    retriever.invoke("island", mode="keyword", filters=filters, profile="wordllama")
    assert catalog.calls == [("island", "hybrid", 1, None), ("island", "keyword", 8, filters)]
    assert catalog.profiles == [None, "wordllama"]
    with pytest.raises(TypeError, match="unexpected arguments: kk"):
        retriever.invoke("island", kk=1)


async def test_async_per_call_k():
    catalog = FakeCatalog(HITS)
    docs = await CatalogRetriever(catalog=catalog, k=2).ainvoke("anything", k=1)
    assert catalog.calls == [("anything", "hybrid", 1, None)] and len(docs) == 1


async def test_async_retrieval():
    catalog = FakeCatalog(HITS)
    docs = await CatalogRetriever(catalog=catalog).ainvoke("anything")
    assert catalog.calls == [("anything", "hybrid", 8, None)]
    assert [d.metadata["id"] for d in docs] == [7, 3]
    assert all(isinstance(d, Document) for d in docs)


@pytest.mark.integration
def test_retriever_over_the_real_catalog(new_database, embedder):
    from test_search import seed

    from retrieval.database import make_engine
    from retrieval.schema import create_schema
    from retrieval.search import PgCatalog

    engine = make_engine(new_database("retriever"))
    try:
        create_schema(engine)
        seed(engine, embedder)
        catalog = PgCatalog(engine, embedder)
        docs = CatalogRetriever(catalog=catalog, k=4).invoke("movies with Tom Hanks")
        assert sorted(d.metadata["title"] for d in docs) == ["Cast Away", "Forrest Gump", "Toy Story", "Toy Story 2"]
        expected = catalog.search("movies with Tom Hanks", k=4)
        assert [d.metadata for d in docs] == [h.full() for h in expected]
        assert docs[0].page_content == hit_text(expected[0])
    finally:
        engine.dispose()
