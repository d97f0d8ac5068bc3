"""MovieLens (`ml-latest-small` layout): films joined to the catalog by IMDb id, ratings into
`ratings`, and the per-film rating stats, in the same transaction as the films."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from retrieval.ingest.formats import _decode
from retrieval.ingest.models import MovieLensFilm, MovieLensLink, MovieLensRating, parse
from retrieval.ingest.records import IngestError, IngestReport, Record
from retrieval.ingest.writer import apply
from retrieval.types import Embedder
from retrieval.users import refresh_users

log = logging.getLogger(__name__)

MOVIELENS_FILES = {
    "movies.csv": ("movieId", "title", "genres"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
}


def ingest_movielens(engine: Engine, directory: str | Path, embedder: Embedder, *, progress: bool = False) -> IngestReport:
    """Ingest an ml-latest-small-style folder: films joined to the catalog by IMDb id (a course
    film and its MovieLens film are one row), ratings into `ratings`, and each film's
    `avg_rating`/`num_ratings` recomputed from them. One transaction for the whole folder."""
    started = time.perf_counter()
    folder = Path(directory)
    if not folder.is_dir():
        raise IngestError(folder, "is not a directory", hint="give the folder that holds movies.csv, links.csv and ratings.csv")
    movies = _read_csv(folder, "movies.csv")
    links = _read_csv(folder, "links.csv")
    ratings = _read_csv(folder, "ratings.csv")

    films: dict[int, dict[str, Any]] = {}
    where_of: dict[int, str] = {}
    for where, row in _lines("movies.csv", movies):
        film = parse(MovieLensFilm, row, where=where, file=folder)
        ml_id = film.movielens_id
        if ml_id in films:
            raise IngestError(folder, f"movieId {ml_id} appears twice (first at {where_of[ml_id]})", where=where, hint="remove the duplicate line")
        films[ml_id] = film.values()
        where_of[ml_id] = where

    imdb_seen: dict[int, str] = {}
    for where, row in _lines("links.csv", links):
        link = parse(MovieLensLink, row, where=where, file=folder)
        if link.movielens_id not in films:
            continue  # a link for a film this folder does not list: nothing to attach it to
        if link.imdb_id is not None:
            if link.imdb_id in imdb_seen:
                raise IngestError(folder, f"IMDb id {link.imdb_id} is linked twice (first at {imdb_seen[link.imdb_id]})", where=where, hint="remove or correct one of the links")
            imdb_seen[link.imdb_id] = where
        films[link.movielens_id] |= {"imdb_id": link.imdb_id, "tmdb_id": link.tmdb_id}

    stage: list[tuple[int, int, float, int | None]] = []
    pairs: set[tuple[int, int]] = set()
    orphans: list[str] = []
    for where, row in _lines("ratings.csv", ratings):
        rated = parse(MovieLensRating, row, where=where, file=folder)
        user, ml_id = rated.user_id, rated.movielens_id
        if ml_id not in films:
            # A rating of a film the folder does not describe cannot be attached to a row. It is
            # well-formed, so it is skipped and reported rather than failing the whole folder.
            orphans.append(f"{where} (movieId {ml_id})")
            continue
        if (user, ml_id) in pairs:
            raise IngestError(folder, f"user {user} rates movieId {ml_id} twice", where=where, hint="keep one rating per user and film")
        pairs.add((user, ml_id))
        stage.append((user, ml_id, rated.rating, rated.timestamp))

    records = []
    for ml_id, values in films.items():
        imdb = values.get("imdb_id")
        key = f"imdb:{imdb}" if imdb is not None else f"ml:{ml_id}"
        values.setdefault("tmdb_id", None)
        records.append(Record(where=where_of[ml_id], source_key=key, values=values, movielens_only=True))

    def after(conn: Connection) -> set[int]:
        changed = _load_ratings(conn, stage, list(films))
        report.users_changed = refresh_users(conn)  # the sparse user vectors, same transaction
        return changed

    report = IngestReport(file=str(folder), format="movielens")
    report = apply(
        engine, records, embedder, file=str(folder), fmt="movielens", source="movielens",
        progress=progress, after=after, report=report,
    )
    report.ratings = len(stage)
    report.ratings_skipped = len(orphans)
    if orphans:
        shown = ", ".join(orphans[:3]) + (f" and {len(orphans) - 3} more" if len(orphans) > 3 else "")
        report.warnings.append(
            f"skipped {len(orphans)} rating(s) of films not in movies.csv: {shown}"
        )
        log.info("%s: %s", folder, report.warnings[-1])  # the CLI prints report.warnings
    report.seconds = time.perf_counter() - started
    return report


def _lines(name: str, rows: list[tuple[int, list[str]]]) -> Iterator[tuple[str, dict[str, str]]]:
    """('movies.csv line 4', {header: field}) for each line read by `_read_csv`."""
    header = MOVIELENS_FILES[name]
    for line, row in rows:
        yield f"{name} line {line}", dict(zip(header, row, strict=True))


def _read_csv(folder: Path, name: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every data line of `folder/name`, header checked."""
    path = folder / name
    expected = MOVIELENS_FILES[name]
    if not path.is_file():
        raise IngestError(folder, f"has no {name}", hint=f"give a MovieLens folder with {', '.join(MOVIELENS_FILES)}")
    content = _decode(path.read_bytes(), str(path))
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != expected:
            raise IngestError(
                path, f"the header is {','.join(header or [])!r}, expected {','.join(expected)!r}",
                where="line 1", hint="give a MovieLens ml-latest-small-style file",
            )
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(expected):
                raise IngestError(
                    path, f"has {len(row)} fields, expected {len(expected)} ({','.join(expected)})",
                    where=f"line {reader.line_num}", hint="fix that line",
                )
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise IngestError(path, f"is not valid CSV ({exc})", where=f"line {reader.line_num}", hint="fix that line") from None
    return rows


_RATINGS_STAGE = """
CREATE TEMP TABLE ratings_stage (
    user_id integer NOT NULL, movielens_id integer NOT NULL, rating double precision NOT NULL,
    rated_at bigint
) ON COMMIT DROP
"""

# Ratings of this folder's films that the folder no longer has.
_RATINGS_DELETE = """
DELETE FROM ratings r
USING movies m
WHERE r.movie_id = m.id
  AND m.movielens_id = ANY(CAST(:ml_ids AS integer[]))
  AND NOT EXISTS (
      SELECT 1 FROM ratings_stage s WHERE s.movielens_id = m.movielens_id AND s.user_id = r.user_id
  )
"""

# New or changed ratings; identical ones are not rewritten, so a re-ingest writes nothing.
_RATINGS_UPSERT = """
INSERT INTO ratings (user_id, movie_id, rating, rated_at)
SELECT s.user_id, m.id, s.rating, s.rated_at
FROM ratings_stage s JOIN movies m ON m.movielens_id = s.movielens_id
ON CONFLICT (user_id, movie_id) DO UPDATE
SET rating = EXCLUDED.rating, rated_at = EXCLUDED.rated_at
WHERE (ratings.rating, ratings.rated_at) IS DISTINCT FROM (EXCLUDED.rating, EXCLUDED.rated_at)
"""

# avg_rating / num_ratings of every MovieLens film from the ratings table (0 and NULL when none).
_RATING_STATS = """
UPDATE movies m
SET avg_rating = s.avg_rating, num_ratings = s.num_ratings
FROM (
    SELECT mv.id, avg(r.rating) AS avg_rating, count(r.rating)::integer AS num_ratings
    FROM movies mv LEFT JOIN ratings r ON r.movie_id = mv.id
    WHERE mv.movielens_id IS NOT NULL
    GROUP BY mv.id
) s
WHERE m.id = s.id
  AND (m.avg_rating IS DISTINCT FROM s.avg_rating OR m.num_ratings IS DISTINCT FROM s.num_ratings)
RETURNING m.id
"""


def _load_ratings(conn: Connection, stage: Sequence[tuple[int, int, float, int | None]], ml_ids: list[int]) -> set[int]:
    """Replace the folder's ratings (COPY into a temp table, then a diff) and recompute the stats;
    return ids of movies whose stats changed."""
    conn.execute(text(_RATINGS_STAGE))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY ratings_stage (user_id, movielens_id, rating, rated_at) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in stage:
            copy.write_row(row)
    conn.execute(text(_RATINGS_DELETE), {"ml_ids": ml_ids})
    conn.execute(text(_RATINGS_UPSERT))
    return {row[0] for row in conn.execute(text(_RATING_STATS))}


