"""The shapes every ingest shares: the error a person reads, the report, one parsed record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Columns a record may set (besides bookkeeping); order fixes the SQL of the writer.
CONTENT_COLUMNS = (
    "imdb_id", "movielens_id", "tmdb_id", "title", "year", "country", "language", "duration_min",
    "summary", "genres", "director", "writers", "actors", "poster_url", "titles_aka",
)
LIST_COLUMNS = frozenset({"genres", "writers", "actors", "titles_aka"})

DEMO_FILE = "demo_movies.json"
"""The demo catalog shipped in `retrieval/data/`."""


class IngestError(ValueError):
    """An input file is malformed; the message names the file, the record or line, what is wrong
    and what to do. Raised before anything is written (or inside the rolled-back transaction)."""

    def __init__(self, file: str | Path, problem: str, *, where: str | None = None, hint: str | None = None):
        self.file = str(file)
        self.where = where
        self.problem = problem
        location = f"{self.file}, {where}" if where else self.file
        todo = hint or "fix it and run the ingest again"
        super().__init__(f"{location}: {problem}; {todo}. The catalog was left unchanged.")


@dataclass(kw_only=True)
class IngestReport:
    """What one ingest did; `to_json()` is the `--json` output of `movie-rag ingest`."""

    file: str
    """The file or directory ingested."""
    format: str
    """course, plots, native, demo or movielens."""
    inserted: int = 0
    """New movie rows."""
    updated: int = 0
    """Existing movie rows whose values changed."""
    unchanged: int = 0
    """Movies in the input whose row was already exactly right."""
    embedded: int = 0
    """Rows embedded in this run (new rows and rows whose embedding text changed)."""
    total_movies: int = 0
    """Rows in `movies` after the ingest."""
    ratings: int = 0
    """Ratings loaded (MovieLens only)."""
    ratings_skipped: int = 0
    """Ratings skipped because their movieId is not in movies.csv (MovieLens only)."""
    users_changed: int = 0
    """Rows of `users` (sparse rating vectors) written (MovieLens only; 0 on a re-ingest)."""
    warnings: list[str] = field(default_factory=list)
    """Things a person should know that did not stop the ingest."""
    seconds: float = 0.0
    """Wall time of the whole ingest, embedding included."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """The one line the CLI prints last."""
        return (
            f"catalog loaded: {self.total_movies} movies ({self.inserted} inserted, {self.updated} "
            f"updated, {self.unchanged} unchanged, {self.embedded} embedded) in {self.seconds:.1f} s"
        )


@dataclass(kw_only=True)
class Record:
    """One movie as an input gives it, before it meets the database."""

    where: str
    """'record 3 ("Title")' or 'movies.csv line 4', for messages."""
    source_key: str
    values: dict[str, Any]
    """Only the columns this input sets (see the module docstring)."""
    movielens_only: bool = False
    """MovieLens film: on a row another source made, set only the MovieLens ids and add its
    titles to the row's alternative titles."""


