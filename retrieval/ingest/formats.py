"""Movies JSON files: detect the format from the keys (course, plot list, native) and parse
every record, all before anything touches the database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrieval.ingest.coerce import key_list, source_key, title_year, where_of
from retrieval.ingest.models import NATIVE_KEYS, CourseFilm, NativeFilm, parse
from retrieval.ingest.records import IngestError, Record

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
    model = CourseFilm if fmt == "course" else NativeFilm
    records = [_record(model, item, i, file) for i, item in enumerate(items, start=1)]
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
            raise IngestError(file, f"has an object with keys {key_list(doc)} at the top", hint=f"give one of {ACCEPTED_FORMATS}")
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
    for i, item in enumerate(items, start=1):
        unknown = sorted(set(item) - NATIVE_KEYS)
        if unknown:
            raise IngestError(
                file, f"has key(s) {', '.join(map(repr, unknown))} that match no accepted format",
                where=where_of(i, item.get("title")), hint=f"give one of {ACCEPTED_FORMATS}",
            )
    return fmt, items


def _record(model: type[CourseFilm | NativeFilm], item: Mapping[str, Any], i: int, file: str) -> Record:
    """Record `i` of a movies file, validated by its format's model."""
    where = where_of(i, item.get(model.model_fields["title"].alias or "title"))
    values = parse(model, item, where=where, file=file).values()
    return Record(where=where, source_key=source_key(values), values=values)


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
                    else f"the same title and year {title_year(rec.values)}"
                )
                raise IngestError(file, f"{first.where} and {rec.where} have {what}", hint="remove or correct one of them")
            seen[key] = rec

