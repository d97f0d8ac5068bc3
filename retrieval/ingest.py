"""Load movies into the catalog: the course `movies.json`, a plot list, the native format, the
bundled demo catalog, and MovieLens (`ml-latest-small` layout).

Every file is validated completely before anything is embedded or written, and written in one
transaction, so a malformed file leaves the database exactly as it was. Rows are keyed by a
stable `source_key` (`imdb:<n>` when the IMDb id is known, else `title:<lower title>|<year>`,
`ml:<movieId>` for MovieLens films without a link); re-ingesting upserts on it, and only rows whose
`embedding_text` changed are embedded again.

A key missing from a JSON record means "not given": the column keeps what it had (or its default
for a new row). An explicit `null` clears it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from retrieval.embeddings import embed_in_batches, embedding_text
from retrieval.types import Embedder

__all__ = [
    "DEMO_FILE",
    "IngestError",
    "IngestReport",
    "ingest_demo",
    "ingest_movielens",
    "ingest_movies",
    "parse_movielens_title",
    "read_movies_file",
]

log = logging.getLogger(__name__)

_INGEST_LOCK = 727_002  # advisory lock: two ingests into one database take turns

# Columns a record may set (besides bookkeeping); order fixes the SQL below.
CONTENT_COLUMNS = (
    "imdb_id", "movielens_id", "tmdb_id", "title", "year", "country", "language", "duration_min",
    "summary", "genres", "director", "writers", "actors", "poster_url",
)
_LIST_COLUMNS = frozenset({"genres", "writers", "actors"})

# Keys of the native format: the `movies` columns a person would write by hand.
NATIVE_KEYS = frozenset({
    "title", "year", "summary", "genres", "director", "writers", "actors", "duration_min",
    "country", "language", "poster_url", "imdb_id",
})
PLOT_KEYS = frozenset({"title", "plot", "year"})

ACCEPTED_FORMATS = (
    "the course movies.json ({\"films\": {\"film\": [...]}} with keys titre, annee, resume, genre, "
    "realisateur, role, _id, ...), a plot list ([{\"title\": ..., \"plot\": ..., \"year\": ...}]) or "
    "the native list ([{\"title\": ..., \"year\": ..., \"summary\": ..., \"genres\": [...], "
    "\"director\": ..., \"actors\": [...], ...}])"
)

MOVIELENS_FILES = {
    "movies.csv": ("movieId", "title", "genres"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
}

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
class _Record:
    """One movie as an input gives it, before it meets the database."""

    where: str
    """'record 3 ("Title")' or 'movies.csv line 4', for messages."""
    source_key: str
    values: dict[str, Any]
    """Only the columns this input sets (see the module docstring)."""
    movielens_only: bool = False
    """MovieLens film: on a row another source made, set only the MovieLens ids."""


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def texts_to_embed(self) -> set[str]:
        return {r["embedding_text"] for r in (*self.inserts, *self.updates) if r["_embed"]}


# --- JSON: course, plots, native ---------------------------------------------------------------


def ingest_movies(engine: Engine, path: str | Path, embedder: Embedder, *, progress: bool = False) -> IngestReport:
    """Ingest a movies JSON file (course, plot-list or native format, detected from its keys)."""
    started = time.perf_counter()
    fmt, records = read_movies_file(path)
    report = _apply(engine, records, embedder, file=str(path), fmt=fmt, source=fmt, progress=progress)
    report.seconds = time.perf_counter() - started
    return report


def ingest_demo(engine: Engine, embedder: Embedder, *, progress: bool = False) -> IngestReport:
    """Ingest the demo catalog shipped with the package (about 50 well-known films)."""
    started = time.perf_counter()
    resource = resources.files("retrieval").joinpath("data", DEMO_FILE)
    fmt, records = _parse_movies(resource.read_bytes(), DEMO_FILE)
    report = _apply(engine, records, embedder, file=DEMO_FILE, fmt="demo", source="demo", progress=progress)
    report.seconds = time.perf_counter() - started
    return report


def read_movies_file(path: str | Path) -> tuple[str, list[_Record]]:
    """Read and validate a movies JSON file without touching a database: (format, records)."""
    p = Path(path)
    if not p.exists():
        raise IngestError(p, "the file does not exist", hint="give the path of a movies JSON file")
    if not p.is_file():
        raise IngestError(p, "is not a file", hint="give the path of a movies JSON file")
    return _parse_movies(p.read_bytes(), str(p))


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            file, f"byte {exc.start} is not valid UTF-8", where=f"line {line}",
            hint="save the file as UTF-8",
        ) from None


def _parse_movies(data: bytes, file: str) -> tuple[str, list[_Record]]:
    content = _decode(data, file)
    try:
        doc = json.loads(content)
    except json.JSONDecodeError as exc:
        raise IngestError(
            file, f"is not valid JSON ({exc.msg})", where=f"line {exc.lineno} column {exc.colno}",
            hint="fix the JSON syntax",
        ) from None
    fmt, items = _detect(doc, file)
    parse = _course_record if fmt == "course" else _native_record
    records = [parse(item, i, file) for i, item in enumerate(items, start=1)]
    _check_duplicates(records, file)
    return fmt, records


def _detect(doc: Any, file: str) -> tuple[str, list[dict[str, Any]]]:
    """Which format `doc` is in, and its list of records."""
    items: Any = doc
    course_wrapper = False
    if isinstance(doc, dict):
        if "films" in doc:
            films = doc["films"]
            items = films.get("film") if isinstance(films, dict) else films
            if isinstance(items, dict):  # a single film, as XML-to-JSON converters write it
                items = [items]
            course_wrapper = True
        elif isinstance(doc.get("movies"), list):
            items = doc["movies"]
        else:
            raise IngestError(file, f"has an object with keys {_keys(doc)} at the top", hint=f"give one of {ACCEPTED_FORMATS}")
    if not isinstance(items, list):
        raise IngestError(file, "does not hold a list of movies", hint=f"give one of {ACCEPTED_FORMATS}")
    if not items:
        raise IngestError(file, "contains no movies", hint="give a file with at least one movie")
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise IngestError(
                file, f"is a JSON {type(item).__name__}, not an object", where=f"record {i}",
                hint="give one object per movie",
            )
    keys = set().union(*(item.keys() for item in items))
    if course_wrapper or "titre" in keys:
        return "course", items
    fmt = "plots" if "plot" in keys else "native"
    allowed = NATIVE_KEYS | PLOT_KEYS
    for i, item in enumerate(items, start=1):
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise IngestError(
                file, f"has key(s) {', '.join(map(repr, unknown))} that match no accepted format",
                where=_where(i, item.get("title")), hint=f"give one of {ACCEPTED_FORMATS}",
            )
    return fmt, items


def _course_record(item: Mapping[str, Any], i: int, file: str) -> _Record:
    """A film of the course movies.json (French keys; `_id` is the IMDb number)."""
    where = _where(i, item.get("titre"))
    title = _title(item.get("titre"), "titre", where, file)
    values: dict[str, Any] = {"title": title}
    if "annee" in item:
        values["year"] = _year(item["annee"], "annee", where, file)
    if "pays" in item:
        values["country"] = _joined(item["pays"], "pays", where, file)
    if "langue" in item:
        values["language"] = _joined(item["langue"], "langue", where, file)
    if "duree" in item:
        values["duration_min"] = _int(item["duree"], "duree", where, file, low=1, high=10_000)
    if "resume" in item:
        values["summary"] = _str(item["resume"], "resume", where, file)
    if "genre" in item:
        values["genres"] = _names(item["genre"], "genre", where, file)
    if "realisateur" in item:
        values["director"] = _joined(_names(item["realisateur"], "realisateur", where, file), "realisateur", where, file)
    if "scenariste" in item:
        values["writers"] = _names(item["scenariste"], "scenariste", where, file)
    if "role" in item:
        values["actors"] = _actors(item["role"], where, file)
    if "poster" in item:
        values["poster_url"] = _str(item["poster"], "poster", where, file)
    if item.get("_id") is not None:
        values["imdb_id"] = _imdb(item["_id"], "_id", where, file)
    return _Record(where=where, source_key=_source_key(values), values=values)


def _native_record(item: Mapping[str, Any], i: int, file: str) -> _Record:
    """A record of the native format (keys = `movies` columns) or of a plot list (`plot`)."""
    where = _where(i, item.get("title"))
    values: dict[str, Any] = {"title": _title(item.get("title"), "title", where, file)}
    for key, raw in item.items():
        if key == "title":
            continue
        if key == "year":
            values["year"] = _year(raw, key, where, file)
        elif key == "duration_min":
            values[key] = _int(raw, key, where, file, low=1, high=10_000)
        elif key == "imdb_id":
            values[key] = _imdb(raw, key, where, file) if raw is not None else None
        elif key in _LIST_COLUMNS:
            values[key] = _names(raw, key, where, file)
        elif key == "plot":
            values["summary"] = _str(raw, key, where, file)
        else:
            values[key] = _str(raw, key, where, file)
    if "plot" in item and "summary" in item:
        raise IngestError(file, "has both 'plot' and 'summary'", where=where, hint="keep one of them")
    return _Record(where=where, source_key=_source_key(values), values=values)


def _check_duplicates(records: Sequence[_Record], file: str) -> None:
    seen: dict[tuple[str, object], _Record] = {}
    for rec in records:
        keys: list[tuple[str, object]] = []
        if rec.values.get("imdb_id") is not None:
            keys.append(("imdb", rec.values["imdb_id"]))
        keys.append(("title", (rec.values["title"].lower(), rec.values.get("year"))))
        for key in keys:
            first = seen.get(key)
            if first is not None:
                what = (
                    f"the same IMDb id {rec.values['imdb_id']}" if key[0] == "imdb"
                    else f"the same title and year {_title_year(rec.values)}"
                )
                raise IngestError(file, f"{first.where} and {rec.where} have {what}", hint="remove or correct one of them")
            seen[key] = rec


# --- MovieLens ---------------------------------------------------------------------------------


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
    for line, row in movies:
        where = f"movies.csv line {line}"
        ml_id = _required_int(row[0], "movieId", where, str(folder))
        if ml_id in films:
            raise IngestError(folder, f"movieId {ml_id} appears twice (first at {where_of[ml_id]})", where=where, hint="remove the duplicate line")
        title, year = parse_movielens_title(row[1])
        if not title:
            raise IngestError(folder, "the title is empty", where=where, hint="give every movie a title")
        genres = [] if row[2].strip() in ("", "(no genres listed)") else [g.strip() for g in row[2].split("|") if g.strip()]
        films[ml_id] = {"title": title, "year": year, "genres": genres, "movielens_id": ml_id}
        where_of[ml_id] = where

    imdb_seen: dict[int, str] = {}
    for line, row in links:
        where = f"links.csv line {line}"
        ml_id = _required_int(row[0], "movieId", where, str(folder))
        if ml_id not in films:
            continue  # a link for a film this folder does not list: nothing to attach it to
        imdb = _imdb(row[1], "imdbId", where, str(folder)) if row[1].strip() else None
        tmdb = _int(row[2], "tmdbId", where, str(folder)) if row[2].strip() else None
        if imdb is not None:
            if imdb in imdb_seen:
                raise IngestError(folder, f"IMDb id {imdb} is linked twice (first at {imdb_seen[imdb]})", where=where, hint="remove or correct one of the links")
            imdb_seen[imdb] = where
        films[ml_id]["imdb_id"] = imdb
        films[ml_id]["tmdb_id"] = tmdb

    stage: list[tuple[int, int, float, int | None]] = []
    pairs: set[tuple[int, int]] = set()
    orphans: list[str] = []
    for line, row in ratings:
        where = f"ratings.csv line {line}"
        user = _required_int(row[0], "userId", where, str(folder))
        ml_id = _required_int(row[1], "movieId", where, str(folder))
        rating = _float(row[2], "rating", where, str(folder), low=0.0, high=5.0)
        stamp = _int(row[3], "timestamp", where, str(folder)) if row[3].strip() else None
        if ml_id not in films:
            # A rating of a film the folder does not describe cannot be attached to a row. It is
            # well-formed, so it is skipped and reported rather than failing the whole folder.
            orphans.append(f"{where} (movieId {ml_id})")
            continue
        if (user, ml_id) in pairs:
            raise IngestError(folder, f"user {user} rates movieId {ml_id} twice", where=where, hint="keep one rating per user and film")
        pairs.add((user, ml_id))
        stage.append((user, ml_id, rating, stamp))

    records = []
    for ml_id, values in films.items():
        imdb = values.get("imdb_id")
        key = f"imdb:{imdb}" if imdb is not None else f"ml:{ml_id}"
        values.setdefault("tmdb_id", None)
        records.append(_Record(where=where_of[ml_id], source_key=key, values=values, movielens_only=True))

    def after(conn: Connection) -> set[int]:
        return _load_ratings(conn, stage, list(films))

    report = _apply(
        engine, records, embedder, file=str(folder), fmt="movielens", source="movielens",
        progress=progress, after=after,
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


_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
_AKA = re.compile(r"^(?P<main>.+?)(?:\s+\([^()]*\))+$")
_ARTICLE = re.compile(
    r"^(?P<rest>.+), (?P<art>The|A|An|Le|La|Les|L'|El|Los|Las|Lo|Il|I|Gli|Das|Der|Die|Den|Det|De|Het|"
    r"Un|Une|Una|Uno|O|Os|As|Ett|En)$"
)


def parse_movielens_title(raw: str) -> tuple[str, int | None]:
    """MovieLens "Matrix, The (1999)" -> ("The Matrix", 1999); alternative titles in parentheses
    ("Seven (a.k.a. Se7en) (1995)") are dropped; a title without a year gives None."""
    s = " ".join(raw.split())
    year = None
    if m := _TITLE_YEAR.match(s):
        s, year = m["title"], int(m["year"])
    if (m := _AKA.match(s)) and not s.startswith("("):
        s = m["main"]
    if m := _ARTICLE.match(s):
        art = m["art"]
        s = f"{art}{m['rest']}" if art.endswith("'") else f"{art} {m['rest']}"
    return s.strip(), year


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


# --- writing -----------------------------------------------------------------------------------

_SELECT_EXISTING = f"""
SELECT id, source_key, source, people, embedding_text, embedding IS NULL AS no_embedding,
       {", ".join(CONTENT_COLUMNS)}
FROM movies
WHERE source_key = ANY(CAST(:keys AS text[]))
   OR movielens_id = ANY(CAST(:ml_ids AS integer[]))
"""

_INSERT = f"""
INSERT INTO movies (source_key, source, people, embedding_text, embedding, {", ".join(CONTENT_COLUMNS)})
VALUES (:source_key, :source, :people, :embedding_text, CAST(:embedding AS vector),
        {", ".join(f"CAST(:{c} AS text[])" if c in _LIST_COLUMNS else f":{c}" for c in CONTENT_COLUMNS)})
"""

_UPDATE = f"""
UPDATE movies SET
    source_key = :source_key, source = :source, people = :people, embedding_text = :embedding_text,
    embedding = COALESCE(CAST(:embedding AS vector), embedding),
    {", ".join(f"{c} = CAST(:{c} AS text[])" if c in _LIST_COLUMNS else f"{c} = :{c}" for c in CONTENT_COLUMNS)}
WHERE id = :id
"""

_COMPARED = ("source_key", "source", "people", "embedding_text", *CONTENT_COLUMNS)

AfterHook = Callable[[Connection], set[int]]
"""Extra writes in the same transaction (MovieLens ratings); returns ids of movies it changed."""


def _apply(
    engine: Engine, records: Sequence[_Record], embedder: Embedder, *, file: str, fmt: str,
    source: str, progress: bool, after: AfterHook | None = None,
) -> IngestReport:
    """Embed what changed (outside the transaction, from a snapshot), then write everything in one
    transaction that re-reads the rows under lock and embeds anything the snapshot missed."""
    vectors: dict[str, list[float]] = {}

    def embed(texts: Iterable[str]) -> None:
        todo = sorted(set(texts) - vectors.keys())
        if todo:
            for t, v in zip(todo, embed_in_batches(embedder, todo, progress=progress), strict=True):
                vectors[t] = v

    with engine.connect() as conn:
        embed(_plan(_existing(conn, records), records, source).texts_to_embed())

    report = IngestReport(file=file, format=fmt)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INGEST_LOCK})
            plan = _plan(_existing(conn, records, lock=True), records, source)
            embed(plan.texts_to_embed())
            for row in (*plan.inserts, *plan.updates):
                row["embedding"] = _vector_literal(vectors[row["embedding_text"]]) if row.pop("_embed") else None
            if plan.inserts:
                conn.execute(text(_INSERT), plan.inserts)
            if plan.updates:
                conn.execute(text(_UPDATE), plan.updates)
            updated = {row["id"] for row in plan.updates}
            if after is not None:
                # Rows this ingest touched only through the hook (ratings) count as updated too;
                # new rows stay "inserted".
                new_keys = [row["source_key"] for row in plan.inserts]
                new_ids = {r[0] for r in conn.execute(
                    text("SELECT id FROM movies WHERE source_key = ANY(CAST(:k AS text[]))"), {"k": new_keys}
                )} if new_keys else set()
                updated |= after(conn) - new_ids
            report.inserted = len(plan.inserts)
            report.updated = len(updated)
            report.unchanged = max(0, len(records) - report.inserted - report.updated)
            report.embedded = sum(1 for row in (*plan.inserts, *plan.updates) if row["embedding"] is not None)
            report.total_movies = conn.execute(text("SELECT count(*) FROM movies")).scalar_one()
    except IntegrityError as exc:
        detail = getattr(exc.orig, "diag", None)
        reason = getattr(detail, "message_detail", None) or str(exc.orig).splitlines()[0]
        raise IngestError(
            file, f"conflicts with rows already in the catalog ({reason})",
            hint="correct the ids in the file or remove the conflicting rows",
        ) from None
    return report


def _existing(conn: Connection, records: Sequence[_Record], *, lock: bool = False) -> dict[str, dict[str, Any]]:
    """Catalog rows the records may land on, by source_key; MovieLens films also find the row
    that already holds their movielens_id or IMDb id (so the join makes one row, not two)."""
    keys = [r.source_key for r in records]
    ml_ids = [r.values["movielens_id"] for r in records if r.values.get("movielens_id") is not None]
    sql = _SELECT_EXISTING + (" FOR UPDATE" if lock else "")
    rows = [dict(r) for r in conn.execute(text(sql), {"keys": keys, "ml_ids": ml_ids}).mappings()]
    by_key = {row["source_key"]: row for row in rows}
    if ml_ids:
        by_ml = {row["movielens_id"]: row for row in rows if row["movielens_id"] is not None}
        for rec in records:
            hit = by_ml.get(rec.values.get("movielens_id"))
            if hit is not None:
                by_key[rec.source_key] = hit
    return by_key


def _plan(existing: Mapping[str, dict[str, Any]], records: Sequence[_Record], source: str) -> _Plan:
    plan = _Plan()
    for rec in records:
        old = existing.get(rec.source_key)
        if old is None:
            row: dict[str, Any] = {c: ([] if c in _LIST_COLUMNS else None) for c in CONTENT_COLUMNS}
            row.update(rec.values)
            row.update(source_key=rec.source_key, source=source)
            _derive(row)
            row["_embed"] = True
            plan.inserts.append(row)
            continue
        new = {c: old[c] for c in (*CONTENT_COLUMNS, "source", "source_key")}
        new["genres"], new["writers"], new["actors"] = (list(old[c] or []) for c in ("genres", "writers", "actors"))
        if rec.movielens_only and old["source"] != "movielens":
            # A film another source made: MovieLens only adds its ids (the join), never its text.
            new["movielens_id"] = rec.values["movielens_id"]
            new["tmdb_id"] = rec.values["tmdb_id"]
        else:
            new.update(rec.values)
            new["source"] = source
            # Same key unless a MovieLens film without a link (ml:<n>) has gained an IMDb id.
            new["source_key"] = rec.source_key
        _derive(new)
        if all(new[c] == old[c] for c in _COMPARED) and not old["no_embedding"]:
            plan.unchanged += 1
            continue
        new["id"] = old["id"]
        new["_embed"] = old["no_embedding"] or new["embedding_text"] != old["embedding_text"]
        plan.updates.append(new)
    return plan


def _derive(row: dict[str, Any]) -> None:
    """Fill the columns computed from the others: `people` (full-text search) and `embedding_text`."""
    names = [row.get("director") or "", *(row.get("writers") or []), *(row.get("actors") or [])]
    people = " ; ".join(dict.fromkeys(n for n in names if n))
    row["people"] = people or None
    row["embedding_text"] = embedding_text(row)


def _vector_literal(vec: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.9g}" for x in vec) + "]"


# --- field parsing -----------------------------------------------------------------------------


def _where(i: int, title: object) -> str:
    return f"record {i} ({title!r})" if isinstance(title, str) and title.strip() else f"record {i}"


def _keys(d: Mapping[str, Any]) -> str:
    return ", ".join(repr(k) for k in list(d)[:8])


def _title_year(values: Mapping[str, Any]) -> str:
    year = values.get("year")
    return f"{values['title']!r} ({year})" if year else repr(values["title"])


def _source_key(values: Mapping[str, Any]) -> str:
    if values.get("imdb_id") is not None:
        return f"imdb:{values['imdb_id']}"
    year = values.get("year")
    return f"title:{values['title'].lower()}|{year if year is not None else ''}"


def _title(raw: object, key: str, where: str, file: str) -> str:
    if raw is None:
        raise IngestError(file, f"has no title (key {key!r})", where=where, hint="give every movie a title")
    if not isinstance(raw, str | int):
        raise IngestError(file, f"{key} is a JSON {type(raw).__name__}, not text", where=where, hint="give the title as a string")
    title = " ".join(str(raw).split())
    if not title:
        raise IngestError(file, f"the title (key {key!r}) is empty", where=where, hint="give every movie a title")
    return title


def _str(raw: object, key: str, where: str, file: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise IngestError(file, f"{key} is a JSON {type(raw).__name__}, expected text", where=where, hint=f"give {key} as a string")
    value = str(raw).strip()
    return value or None


def _joined(raw: object, key: str, where: str, file: str) -> str | None:
    """A text column the course sometimes gives as a list (pays: ["France", "USA"])."""
    if isinstance(raw, list):
        parts = [p for p in (_str(x, key, where, file) for x in raw) if p]
        return ", ".join(parts) or None
    return _str(raw, key, where, file)


def _names(raw: object, key: str, where: str, file: str) -> list[str]:
    """A list of names from a string, a list, or the course's {"_id": ..., "__text": name} objects."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("__text")
        name = _str(item, key, where, file)
        if name and name not in out:
            out.append(name)
    return out


def _actors(raw: object, where: str, file: str) -> list[str]:
    """Actor names from the course's `role`: one {acteur, personnage} object or a list of them."""
    if raw is None:
        return []
    roles = raw if isinstance(raw, list) else [raw]
    names: list[object] = []
    for role in roles:
        if isinstance(role, dict):
            names.append(role.get("acteur"))
        elif isinstance(role, str):
            names.append(role)
        else:
            raise IngestError(file, f"role holds a JSON {type(role).__name__}", where=where, hint="give each role as {\"acteur\": ..., \"personnage\": ...}")
    return _names(names, "role", where, file)


def _int(raw: object, key: str, where: str, file: str | Path, *, low: int | None = None, high: int | None = None) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        raise IngestError(file, f"{key} {raw!r} is not a whole number", where=where, hint=f"give {key} as a whole number")
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    try:
        value = int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise IngestError(file, f"{key} {raw!r} is not a whole number", where=where, hint=f"give {key} as a whole number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise IngestError(file, f"{key} {value} is out of range ({low}..{high})", where=where, hint=f"correct {key}")
    return value


def _required_int(raw: str, key: str, where: str, file: str | Path) -> int:
    value = _int(raw, key, where, file)
    if value is None:
        raise IngestError(file, f"{key} is empty", where=where, hint=f"give every line a {key}")
    return value


def _year(raw: object, key: str, where: str, file: str) -> int | None:
    return _int(raw, key, where, file, low=1870, high=2100)


def _float(raw: str, key: str, where: str, file: str, *, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise IngestError(file, f"{key} {raw!r} is not a number", where=where, hint=f"give {key} as a number") from None
    if not low <= value <= high:
        raise IngestError(file, f"{key} {value} is out of range ({low}..{high})", where=where, hint=f"correct {key}")
    return value


def _imdb(raw: object, key: str, where: str, file: str | Path) -> int:
    """An IMDb id as a number: 119190, "0119190" and "tt0119190" are the same film."""
    s = str(raw).strip()
    digits = s[2:] if s.lower().startswith("tt") else s
    if isinstance(raw, bool) or not digits.isdigit() or int(digits) <= 0:
        raise IngestError(file, f"{key} {raw!r} is not an IMDb id", where=where, hint="give the number of the IMDb id (tt0119190 or 119190)")
    return int(digits)
