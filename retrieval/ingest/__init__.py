"""Load movies into the catalog: the course `movies.json`, a plot list, the native format, the
bundled demo catalog, and MovieLens (`ml-latest-small` layout).

Every file is validated completely before anything is embedded or written, and written in one
transaction, so a malformed file leaves the database exactly as it was. Rows are keyed by a
stable `source_key` (`imdb:<n>` when the IMDb id is known, else `title:<lower title>|<year>`,
`ml:<movieId>` for MovieLens films without a link); re-ingesting upserts on it, and only rows whose
`embedding_text` changed are embedded again. MovieLens never replaces a title another source gave;
its titles ("Amelie", "Se7en") become the row's alternative titles (`titles_aka`, for title lookup).

A key missing from a JSON record means "not given": the column keeps what it had (or its default
for a new row). An explicit `null` clears it.

The package: `formats` (detect and parse movies JSON), `movielens` (the CSV folder), `models`
(each record format as a pydantic model whose aliases are the format's keys), `coerce` (one field
at a time), `writer` (the upsert transaction), `records` (shared shapes).
`from retrieval.ingest import ...` is the public surface.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine

from retrieval.ingest.coerce import parse_movielens_akas, parse_movielens_title
from retrieval.ingest.formats import ACCEPTED_FORMATS, _parse_movies, read_movies_file
from retrieval.ingest.movielens import MOVIELENS_FILES, _read_csv, ingest_movielens
from retrieval.ingest.records import DEMO_FILE, IngestError, IngestReport, Record
from retrieval.ingest.writer import apply
from retrieval.types import Embedder

__all__ = [
    "ACCEPTED_FORMATS",
    "DEMO_FILE",
    "MOVIELENS_FILES",
    "IngestError",
    "IngestReport",
    "Record",
    "_read_csv",
    "ingest_demo",
    "ingest_movielens",
    "ingest_movies",
    "parse_movielens_akas",
    "parse_movielens_title",
    "read_movies_file",
]


def ingest_movies(engine: Engine, path: str | Path, embedder: Embedder, *, progress: bool = False) -> IngestReport:
    """Ingest a movies JSON file (course, plot-list or native format, detected from its keys)."""
    started = time.perf_counter()
    fmt, records = read_movies_file(path)
    report = apply(engine, records, embedder, file=str(path), fmt=fmt, source=fmt, progress=progress)
    report.seconds = time.perf_counter() - started
    return report


def ingest_demo(engine: Engine, embedder: Embedder, *, progress: bool = False) -> IngestReport:
    """Ingest the demo catalog shipped with the package (about 50 well-known films)."""
    started = time.perf_counter()
    resource = resources.files("retrieval").joinpath("data", DEMO_FILE)
    fmt, records = _parse_movies(resource.read_bytes(), DEMO_FILE)
    report = apply(engine, records, embedder, file=DEMO_FILE, fmt="demo", source="demo", progress=progress)
    report.seconds = time.perf_counter() - started
    return report

