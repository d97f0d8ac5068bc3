"""LangChain's own standard tests (`langchain-tests`) against the project's retriever and embedders."""

from __future__ import annotations

from typing import Any

import pytest

langchain_tests = pytest.importorskip("langchain_tests", reason="pip install langchain-tests (a dev extra)")

from langchain_tests.integration_tests import (  # noqa: E402
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)

from retrieval.embeddings import load_embedder  # noqa: E402
from retrieval.profiles_models import WordLlamaEmbeddings, load_wordllama  # noqa: E402
from retrieval.retriever import CatalogRetriever  # noqa: E402


@pytest.mark.integration
class TestCatalogRetrieverStandard(RetrieversIntegrationTests):
    """The retriever over the real course catalog: `k` in the constructor and per call."""

    _catalog: Any = None

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _open_catalog(cls, course_db, embedder):  # type: ignore[no-untyped-def]
        from retrieval.database import make_engine
        from retrieval.search import PgCatalog

        engine = make_engine(course_db)
        cls._catalog = PgCatalog(engine, embedder)
        yield
        engine.dispose()

    @property
    def retriever_constructor(self) -> type[CatalogRetriever]:
        return CatalogRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"catalog": type(self)._catalog, "k": 5}

    @property
    def retriever_query_example(self) -> str:
        return "a clownfish crosses the ocean to find his son"


class TestMiniLMEmbeddingsStandard(EmbeddingsIntegrationTests):
    """`retrieval.embeddings.load_embedder()`: the default profile's model."""

    @property
    def embeddings_class(self) -> Any:
        return load_embedder

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


class TestWordLlamaEmbeddingsStandard(EmbeddingsIntegrationTests):
    """The wordllama profile's `WordLlamaEmbeddings`."""

    _model: Any = None

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _load(cls, tmp_path_factory):  # type: ignore[no-untyped-def]
        cls._model = load_wordllama(tmp_path_factory.mktemp("wordllama")).model

    @property
    def embeddings_class(self) -> type[WordLlamaEmbeddings]:
        return WordLlamaEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": type(self)._model}
