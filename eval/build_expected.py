"""Expected answers for eval/questions.yaml, derived from the raw data files (never from the
system's own output).

An item may carry `derive:` — a filter over the course `movies.json` (director, actor, genre,
year_min, year_max, title_words, duration_min_gt, duration_max_lt, exclude, top_by) or a `co_liked:` seed over
MovieLens ratings. `check` recomputes each derivation and reports items whose `expect` disagrees;
`show` prints what a derivation gives, to paste into the YAML.

    python -m eval.build_expected check [--questions eval/questions.yaml]
    python -m eval.build_expected show '{"director": "Steven Spielberg", "year_min": 1990, "year_max": 1999}'
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from eval.metrics import norm_title

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COURSE_MOVIES = SHARED_DATA / "course-movies" / "movies.json"
MOVIELENS_DIR = SHARED_DATA / "ml-latest-small"
QUESTIONS = Path(__file__).resolve().parent / "questions.yaml"


@dataclass(frozen=True, kw_only=True)
class Film:
    """One film of the course catalog, in English field names."""

    imdb: int | None
    title: str
    year: int | None
    director: str | None
    actors: tuple[str, ...]
    genres: tuple[str, ...]
    duration_min: int | None
    summary: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("__text")
    return str(value).strip() if value not in (None, "") else None


def load_course(path: Path = COURSE_MOVIES) -> list[Film]:
    """The course movies.json ({"films": {"film": [...]}}, French keys) as Films."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    films = []
    for item in doc["films"]["film"]:
        directors = [d for d in (_text(x) for x in _as_list(item.get("realisateur"))) if d]
        actors = [a for a in (_text(r.get("acteur")) for r in _as_list(item.get("role"))) if a]
        films.append(Film(
            imdb=int(item["_id"]) if item.get("_id") else None,
            title=str(item["titre"]).strip(),
            year=int(item["annee"]) if item.get("annee") else None,
            director=", ".join(directors) or None,
            actors=tuple(actors),
            genres=tuple(str(g) for g in _as_list(item.get("genre"))),
            duration_min=int(item["duree"]) if item.get("duree") else None,
            summary=str(item.get("resume") or ""),
        ))
    return films


def select(films: Iterable[Film], spec: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """(title, year) of the films matching every key of `spec`, ordered by year then title."""
    out = []
    for f in films:
        if (d := spec.get("director")) and not (f.director and d.casefold() in f.director.casefold()):
            continue
        if (a := spec.get("actor")) and not any(a.casefold() in x.casefold() for x in f.actors):
            continue
        genres = {g.casefold() for g in f.genres}
        if any(g.casefold() not in genres for g in _as_list(spec.get("genre"))):
            continue
        if spec.get("year_min") is not None and (f.year is None or f.year < spec["year_min"]):
            continue
        if spec.get("year_max") is not None and (f.year is None or f.year > spec["year_max"]):
            continue
        if (w := spec.get("title_words")) and not all(x.casefold() in f.title.casefold() for x in _as_list(w)):
            continue
        if spec.get("duration_min_gt") is not None and (f.duration_min or 0) <= spec["duration_min_gt"]:
            continue
        if spec.get("duration_max_lt") is not None and (f.duration_min is None or f.duration_min >= spec["duration_max_lt"]):
            continue
        if any(norm_title(f.title) == norm_title(t) and f.year == y for t, y in spec.get("exclude") or []):
            continue
        out.append((f.title, f.year))
    out.sort(key=lambda t: (t[1] or 0, t[0]))
    if spec.get("top_by") == "duration_min":  # "the longest ...": the top row(s), ties included
        by = {(f.title, f.year): f.duration_min or 0 for f in films}
        ranked = sorted(out, key=lambda t: -by[t])
        top = int(spec.get("top", 1))
        if len(ranked) > top:
            cutoff = by[ranked[top - 1]]
            ranked = [t for t in ranked if by[t] >= cutoff]
        out = ranked
    return out


def co_liked(
    films: list[Film], seed: tuple[str, int], *, ml_dir: Path = MOVIELENS_DIR, n: int = 10,
    min_rating: float = 4.0, min_fans: int = 5,
) -> list[tuple[str, int | None]]:
    """Course films most liked by the MovieLens users who liked `seed` (item-item cosine over
    "rated >= 4" sets; films liked by fewer than `min_fans` of those users are left out)."""
    by_imdb = {f.imdb: f for f in films if f.imdb is not None}
    ml_to_film: dict[int, Film] = {}
    with open(ml_dir / "links.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["imdbId"] and int(row["imdbId"]) in by_imdb:
                ml_to_film[int(row["movieId"])] = by_imdb[int(row["imdbId"])]
    likers: dict[int, set[int]] = defaultdict(set)
    with open(ml_dir / "ratings.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if float(row["rating"]) >= min_rating:
                likers[int(row["movieId"])].add(int(row["userId"]))
    seed_ml = [m for m, f in ml_to_film.items() if (norm_title(f.title), f.year) == (norm_title(seed[0]), seed[1])]
    if not seed_ml:
        raise ValueError(f"{seed} is not a course film with a MovieLens link")
    fans = likers[seed_ml[0]]
    scored = []
    for m, f in ml_to_film.items():
        if m == seed_ml[0]:
            continue
        co = len(likers[m] & fans)
        if co >= min_fans:
            scored.append((co / math.sqrt(len(likers[m]) * len(fans)), f.title, f.year))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(t, y) for _, t, y in scored[:n]]


def movielens_subset(films: list[Film], out_dir: Path, *, ml_dir: Path = MOVIELENS_DIR) -> Path:
    """Write an ml-latest-small-style folder holding only the MovieLens films linked to `films`
    (by IMDb id) and their ratings: ratings for the course catalog without embedding 9,000 more
    films (what the tests load)."""
    imdbs = {f.imdb for f in films if f.imdb is not None}
    out_dir.mkdir(parents=True, exist_ok=True)
    keep: set[str] = set()
    with open(ml_dir / "links.csv", newline="", encoding="utf-8") as src, open(out_dir / "links.csv", "w", newline="", encoding="utf-8") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[1] and int(row[1]) in imdbs:
                keep.add(row[0])
                writer.writerow(row)
    for name in ("movies.csv", "ratings.csv"):
        col = 0 if name == "movies.csv" else 1
        with open(ml_dir / name, newline="", encoding="utf-8") as src, open(out_dir / name, "w", newline="", encoding="utf-8") as dst:
            reader, writer = csv.reader(src), csv.writer(dst)
            writer.writerow(next(reader))
            writer.writerows(row for row in reader if row[col] in keep)
    return out_dir


def derive(spec: Mapping[str, Any], films: list[Film]) -> list[tuple[str, int | None]]:
    if "co_liked" in spec:
        seed = spec["co_liked"]
        return co_liked(films, (seed[0], int(seed[1])), n=int(spec.get("n", 10)))
    return select(films, spec)


def _pairs(values: Iterable[Any]) -> list[tuple[str, int | None]]:
    return [(str(v[0]), int(v[1]) if v[1] is not None else None) for v in values]


def check(path: Path = QUESTIONS) -> list[str]:
    """Problems: items whose expected titles differ from their derivation, or name no course film."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    films = load_course()
    known = {(norm_title(f.title), f.year) for f in films}
    problems = []
    for item in doc["items"]:
        for i, turn in enumerate(item.get("turns") or [item]):
            where = f"{item['id']}" + (f" turn {i + 1}" if item.get("turns") else "")
            expect = turn.get("expect") or {}
            for key in ("relevant", "exact", "absent"):
                for title, year in _pairs(expect.get(key) or []):
                    if key != "absent" and (norm_title(title), year) not in known:
                        problems.append(f"{where}: {title} ({year}) is not a course film")
            if "derive" not in turn:
                continue
            got = derive(turn["derive"], films)
            key = "exact" if "exact" in expect else "relevant"
            want = _pairs(expect.get(key) or [])
            if sorted(want, key=str) != sorted(got, key=str):
                problems.append(f"{where}: expect.{key} {want} != derived {got}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.build_expected", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="recompute every derive: and compare with expect")
    c.add_argument("--questions", type=Path, default=QUESTIONS)
    s = sub.add_parser("show", help="print the (title, year) list a derive spec gives, as YAML")
    s.add_argument("spec", help='JSON, e.g. {"director": "Ridley Scott"}')
    args = parser.parse_args(argv)
    if args.cmd == "check":
        problems = check(args.questions)
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s)")
        return 1 if problems else 0
    rows = derive(json.loads(args.spec), load_course())
    print(yaml.safe_dump([list(r) for r in rows], allow_unicode=True, default_flow_style=None, width=200))
    return 0


if __name__ == "__main__":
    sys.exit(main())
