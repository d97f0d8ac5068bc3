"""Shapes shared by the catalog code and its callers, and the Protocols outside things sit behind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Metric = Literal["cosine", "l2", "inner", "l1", "hamming", "jaccard"]
SearchMode = Literal["hybrid", "dense", "keyword"]
METRICS: tuple[Metric, ...] = ("cosine", "l2", "inner", "l1", "hamming", "jaccard")
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "keyword")


@dataclass(frozen=True, kw_only=True)
class MovieHit:
    """One catalog row as a search returns it."""

    id: int
    title: str
    year: int | None
    score: float
    """Higher is more similar (or more relevant)."""
    distance: float | None = None
    """The raw pgvector distance, when the hit came from a vector operator."""
    genres: tuple[str, ...] = ()
    director: str | None = None
    actors: tuple[str, ...] = ()
    summary: str | None = None
    duration_min: int | None = None
    avg_rating: float | None = None
    num_ratings: int | None = None
    poster_url: str | None = None
    country: str | None = None

    def brief(self) -> dict[str, Any]:
        """The `--json` shape of similar/search: id, title, year, score, distance."""
        return {
            "id": self.id,
            "title": self.title,
            "year": self.year,
            "score": self.score,
            "distance": self.distance,
        }

    def full(self) -> dict[str, Any]:
        d = asdict(self)
        d["genres"] = list(self.genres)
        d["actors"] = list(self.actors)
        return d


@dataclass(frozen=True, kw_only=True)
class SearchFilters:
    """Optional narrowing applied inside the SQL of every search mode."""

    year_min: int | None = None
    year_max: int | None = None
    genres: tuple[str, ...] = ()
    """Every listed genre must be present (case-insensitive)."""
    director: str | None = None
    """Substring of the director's name (case-insensitive)."""
    actors: tuple[str, ...] = ()
    """Every listed actor must appear (case-insensitive substring)."""
    people: tuple[str, ...] = ()
    """Every listed name must appear as director, writer or actor (case-insensitive substring)."""
    ids: tuple[int, ...] = field(default=())
    """Restrict to these rows (follow-ups reuse the previous answer's ids)."""

    def is_empty(self) -> bool:
        return not (
            self.year_min or self.year_max or self.genres or self.director or self.actors
            or self.people or self.ids
        )


class Embedder(Protocol):
    """Turns text into 384-d normalized vectors (LangChain's Embeddings interface)."""

    def embed_query(self, text: str) -> list[float]: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...


class UnknownTitle(LookupError):
    """No catalog title matches; `suggestions` holds the closest titles."""

    def __init__(self, title: str, suggestions: Sequence[str]):
        self.title = title
        self.suggestions = list(suggestions)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"No movie titled {title!r} in the catalog.{hint}")


class AmbiguousTitle(LookupError):
    """Several rows share the title; `candidates` are (id, title, year) to choose from with --year."""

    def __init__(self, title: str, candidates: Sequence[tuple[int, str, int | None]]):
        self.title = title
        self.candidates = list(candidates)
        listed = "; ".join(f"{t} ({y})" for _, t, y in self.candidates)
        super().__init__(f"{len(self.candidates)} movies are titled {title!r}: {listed}. Pass --year to pick one.")


class Catalog(Protocol):
    """What the conversation needs from the catalog (sync; the graph runs it in a thread)."""

    def similar(
        self, title: str, *, year: int | None = None, metric: Metric = "cosine", k: int = 10,
        filters: SearchFilters | None = None,
    ) -> list[MovieHit]: ...

    def search(
        self, text: str, *, mode: SearchMode = "hybrid", k: int = 10,
        filters: SearchFilters | None = None, vector: Sequence[float] | None = None,
    ) -> list[MovieHit]: ...

    def get(self, ids: Sequence[int]) -> list[MovieHit]: ...

    def find_titles(self, text: str) -> list[tuple[int, str, int | None]]:
        """Catalog titles that occur in `text` (longest first), for routing."""
        ...

    def count(self) -> int:
        """Rows in the catalog."""
        ...

    def person_roles(self, name: str) -> dict[str, int]:
        """{"director": films directed, "actor": films acted in} for a name."""
        ...
