"""Field coercion: one JSON or CSV value into a column value, or an `Invalid` that says what is
wrong and what to give instead. The coercers do not know which key they read (the course calls the
year `annee`): `Invalid` names it as `{key}`, filled in by `models.parse`, which knows the record."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from retrieval.text import fold


class Invalid(ValueError):
    """One value is wrong. `problem` and `hint` are templates: `{key}` is the input's key, and any
    other `{name}` one of `values` (formatted, never re-parsed, so a value holding braces is safe)."""

    def __init__(self, problem: str, hint: str, **values: object):
        super().__init__(problem)
        self.problem = problem
        self.hint = hint
        self.values = values

    def sentence(self, key: str) -> tuple[str, str]:
        """(problem, hint) with the key and the values filled in."""
        return self.problem.format(key=key, **self.values), self.hint.format(key=key, **self.values)


def where_of(i: int, title: object) -> str:
    """How messages name record `i`: 'record 3 ('Heat')', or 'record 3' when it has no title."""
    return f"record {i} ({title!r})" if isinstance(title, str) and title.strip() else f"record {i}"


def key_list(d: Mapping[str, Any]) -> str:
    return ", ".join(repr(k) for k in list(d)[:8])


def title_year(values: Mapping[str, Any]) -> str:
    year = values.get("year")
    return f"{values['title']!r} ({year})" if year else repr(values["title"])


def source_key(values: Mapping[str, Any]) -> str:
    if values.get("imdb_id") is not None:
        return f"imdb:{values['imdb_id']}"
    year = values.get("year")
    return f"title:{values['title'].lower()}|{year if year is not None else ''}"


def title(raw: object) -> str:
    if raw is None:
        raise Invalid("has no title (key {key!r})", "give every movie a title")
    if not isinstance(raw, str | int):
        raise Invalid("{key} is a JSON {kind}, not text", "give the title as a string", kind=type(raw).__name__)
    value = " ".join(str(raw).split())
    if not value:
        raise Invalid("the title (key {key!r}) is empty", "give every movie a title")
    return value


def text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Invalid("{key} is a JSON {kind}, expected text", "give {key} as a string", kind=type(raw).__name__)
    value = str(raw).strip()
    return value or None


def joined(raw: object) -> str | None:
    """A text column the course sometimes gives as a list (pays: ["France", "USA"])."""
    if isinstance(raw, list):
        return ", ".join(p for p in map(text, raw) if p) or None
    return text(raw)


def names(raw: object) -> list[str]:
    """A list of names from a string, a list, or the course's {"_id": ..., "__text": name} objects."""
    if raw is None:
        return []
    out: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        name = text(item.get("__text") if isinstance(item, dict) else item)
        if name and name not in out:
            out.append(name)
    return out


def joined_names(raw: object) -> str | None:
    """The course's `realisateur`: one name object or several, as one text column."""
    return joined(names(raw))


def actors(raw: object) -> list[str]:
    """Actor names from the course's `role`: one {acteur, personnage} object or a list of them."""
    if raw is None:
        return []
    found: list[object] = []
    for role in raw if isinstance(raw, list) else [raw]:
        if isinstance(role, dict):
            found.append(role.get("acteur"))
        elif isinstance(role, str):
            found.append(role)
        else:
            raise Invalid("{key} holds a JSON {kind}", 'give each role as {{"acteur": ..., "personnage": ...}}', kind=type(role).__name__)
    return names(found)


def whole(raw: object, *, low: int | None = None, high: int | None = None) -> int | None:
    """A whole number from a JSON number or a CSV/JSON string; empty or null is None."""
    if raw is None:
        return None
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        raise Invalid("{key} {value!r} is not a whole number", "give {key} as a whole number", value=raw)
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    try:
        value = int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Invalid("{key} {value!r} is not a whole number", "give {key} as a whole number", value=raw) from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise Invalid("{key} {value} is out of range ({low}..{high})", "correct {key}", value=value, low=low, high=high)
    return value


def required_whole(raw: object) -> int:
    value = whole(raw)
    if value is None:
        raise Invalid("{key} is empty", "give every line a {key}")
    return value


def year(raw: object) -> int | None:
    return whole(raw, low=1870, high=2100)


def duration(raw: object) -> int | None:
    return whole(raw, low=1, high=10_000)


def number(raw: object, *, low: float, high: float) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Invalid("{key} {value!r} is not a number", "give {key} as a number", value=raw) from None
    if not low <= value <= high:
        raise Invalid("{key} {value} is out of range ({low}..{high})", "correct {key}", value=value, low=low, high=high)
    return value


def rating(raw: object) -> float:
    return number(raw, low=0.0, high=5.0)


def imdb(raw: object) -> int:
    """An IMDb id as a number: 119190, "0119190" and "tt0119190" are the same film."""
    s = str(raw).strip()
    digits = s[2:] if s.lower().startswith("tt") else s
    if isinstance(raw, bool) or not digits.isdigit() or int(digits) <= 0:
        raise Invalid("{key} {value!r} is not an IMDb id", "give the number of the IMDb id (tt0119190 or 119190)", value=raw)
    return int(digits)


def imdb_or_empty(raw: object) -> int | None:
    """An IMDb id a CSV field may leave empty."""
    return None if raw is None or isinstance(raw, str) and not raw.strip() else imdb(raw)


_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
_AKA = re.compile(r"^(?P<main>.+?)(?:\s+\([^()]*\))+$")
_ARTICLE = re.compile(
    r"^(?P<rest>.+), (?P<art>The|A|An|Le|La|Les|L'|El|Los|Las|Lo|Il|I|Gli|Das|Der|Die|Den|Det|De|Het|"
    r"Un|Une|Una|Uno|O|Os|As|Ett|En)$"
)


def parse_movielens_title(raw: str) -> tuple[str, int | None]:
    """MovieLens "Matrix, The (1999)" -> ("The Matrix", 1999); alternative titles in parentheses
    ("Seven (a.k.a. Se7en) (1995)") are dropped (`parse_movielens_akas` reads them); a title
    without a year gives None."""
    main, _, year = _split_movielens_title(raw)
    return main, year


def parse_movielens_akas(raw: str) -> list[str]:
    """The alternative titles in a MovieLens title's trailing parentheses, article moved and
    "a.k.a." dropped: "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)" -> ["Le Fabuleux
    destin d'Amélie Poulain"], "Seven (a.k.a. Se7en) (1995)" -> ["Se7en"]."""
    return _split_movielens_title(raw)[1]


def alternative_titles(title: str, candidates: Iterable[str]) -> list[str]:
    """`candidates` in order without `title` and without repeats, compared by their words
    folded (case, accents and punctuation ignored): what `movies.titles_aka` holds."""
    seen = {_title_words(title)}
    out = []
    for candidate in candidates:
        key = _title_words(candidate)
        if key and key not in seen:
            seen.add(key)
            out.append(" ".join(candidate.split()))
    return out


def _title_words(title: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[^\W_]+", fold(title)))


def _split_movielens_title(raw: str) -> tuple[str, list[str], int | None]:
    s = " ".join(raw.split())
    year = None
    if m := _TITLE_YEAR.match(s):
        s, year = m["title"], int(m["year"])
    akas: list[str] = []
    if (m := _AKA.match(s)) and not s.startswith("("):
        akas = [_article_first(re.sub(r"^a\.k\.a\.\s*", "", aka.strip(), flags=re.IGNORECASE))
                for aka in re.findall(r"\(([^()]*)\)", s[len(m["main"]):])]
        s = m["main"]
    return _article_first(s), [a for a in akas if a], year


def _article_first(s: str) -> str:
    """"Matrix, The" -> "The Matrix"; "Aventura, L'" -> "L'Aventura"."""
    if m := _ARTICLE.match(s):
        art = m["art"]
        s = f"{art}{m['rest']}" if art.endswith("'") else f"{art} {m['rest']}"
    return s.strip()
