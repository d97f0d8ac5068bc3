"""A LangChain retriever over the catalog search, so a chain or graph can use it like any other."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.types import MovieHit, SearchFilters, SearchMode


def hit_text(hit: MovieHit) -> str:
    """A row as readable text: heading, facts, then the summary (what an LLM reads)."""
    lines = [f"{hit.title} ({hit.year})" if hit.year else hit.title]
    if hit.genres:
        lines.append("Genres: " + ", ".join(hit.genres))
    if hit.director:
        lines.append(f"Directed by: {hit.director}")
    if hit.actors:
        lines.append("Starring: " + ", ".join(hit.actors[:8]))
    if hit.duration_min:
        lines.append(f"Runtime: {hit.duration_min} min")
    if hit.avg_rating is not None and hit.num_ratings:
        lines.append(f"Average rating: {hit.avg_rating:.2f}/5 from {hit.num_ratings} ratings")
    if hit.summary:
        lines.append(f"Summary: {hit.summary}")
    return "\n".join(lines)


def hit_document(hit: MovieHit) -> Document:
    """A Document whose metadata is the whole hit (`MovieHit.full()`)."""
    return Document(page_content=hit_text(hit), metadata=hit.full(), id=str(hit.id))


class CatalogRetriever(BaseRetriever):
    """Retrieves catalog rows for a query through `Catalog.search`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    catalog: Any
    """A `retrieval.types.Catalog` (e.g. `retrieval.search.PgCatalog`)."""
    k: int = 8
    mode: SearchMode = "hybrid"
    filters: SearchFilters | None = None
    profile: str | None = None
    """Embedding profile for the meaning side (None: the default, minilm)."""

    def _call_args(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Per-call `k`, `mode`, `filters` (and `profile`) override the retriever's own:
        `retriever.invoke("heist", k=1)` returns one document."""
        unknown = set(kwargs) - {"k", "mode", "filters", "profile"}
        if unknown:
            raise TypeError(f"CatalogRetriever got unexpected arguments: {', '.join(sorted(unknown))}")
        args: dict[str, Any] = {
            "mode": kwargs.get("mode", self.mode), "k": int(kwargs.get("k", self.k)),
            "filters": kwargs.get("filters", self.filters),
        }
        profile = kwargs.get("profile", self.profile)
        if profile is not None:
            args["profile"] = profile
        return args

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.catalog.search(query, **self._call_args(kwargs))
        return [hit_document(h) for h in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # The catalog is synchronous (SQLAlchemy + a CPU-bound embedder): keep the loop free.
        hits = await asyncio.to_thread(self.catalog.search, query, **self._call_args(kwargs))
        return [hit_document(h) for h in hits]
