"""Movies JSON files: detect the format from the keys (course, plot list, native) and parse
every record, all before anything touches the database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrieval.ingest.coerce import (
    _actors,
    _imdb,
    _int,
    _joined,
    _keys,
    _names,
    _source_key,
    _str,
    _title,
    _title_year,
    _where,
    _year,
)
from retrieval.ingest.records import LIST_COLUMNS, IngestError, Record

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


def read_movies_file(path: str | Path) -> tuple[str, list[Record]]:
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


def _parse_movies(data: bytes, file: str) -> tuple[str, list[Record]]:
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


def _course_record(item: Mapping[str, Any], i: int, file: str) -> Record:
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
    return Record(where=where, source_key=_source_key(values), values=values)


def _native_record(item: Mapping[str, Any], i: int, file: str) -> Record:
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
        elif key in LIST_COLUMNS:
            values[key] = _names(raw, key, where, file)
        elif key == "plot":
            values["summary"] = _str(raw, key, where, file)
        else:
            values[key] = _str(raw, key, where, file)
    if "plot" in item and "summary" in item:
        raise IngestError(file, "has both 'plot' and 'summary'", where=where, hint="keep one of them")
    return Record(where=where, source_key=_source_key(values), values=values)


def _check_duplicates(records: Sequence[Record], file: str) -> None:
    seen: dict[tuple[str, object], Record] = {}
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

