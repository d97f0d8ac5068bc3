"""Field coercion: one JSON or CSV value into a column value, or an `IngestError` naming the
record, the key and what to give instead."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retrieval.ingest.records import IngestError


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
