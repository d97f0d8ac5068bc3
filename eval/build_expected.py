"""Expected answers for eval/questions.yaml, derived from the raw data files (never from the
system's own output).

An item may carry `derive:` — a filter over the course `movies.json` (see `select` for the keys:
people with and/or, genres all/any/none, years, durations, country, language, MovieLens rating
thresholds, title words, exclusions, a top-by sort with ties), a `fact:` (one field of one named
title: what the answer's first sentence must hold), a `group:` (the group with the most films:
what that sentence must hold) or a `co_liked:` seed over MovieLens ratings.
`check` recomputes each derivation and reports items whose `expect` (exact / relevant / top /
count / lead) disagrees; `show` prints what a derivation gives, to paste into the YAML.

    python -m eval.build_expected check [--questions eval/questions.yaml]
    python -m eval.build_expected show '{"director": "Steven Spielberg", "year_min": 1990, "year_max": 1999}'
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from eval import QUESTIONS_FILE, packaged
from eval.harness import SAFE_LOADER
from eval.metrics import norm_title

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COURSE_MOVIES = SHARED_DATA / "course-movies" / "movies.json"
MOVIELENS_DIR = SHARED_DATA / "ml-latest-small"
QUESTIONS = packaged(QUESTIONS_FILE)


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
    countries: tuple[str, ...] = ()
    language: str | None = None
    writers: tuple[str, ...] = ()


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
            countries=tuple(str(c).strip() for c in _as_list(item.get("pays")) if str(c).strip()),
            language=_text(item.get("langue")),
            writers=tuple(w for w in (_text(x) for x in _as_list(item.get("scenariste"))) if w),
        ))
    return films


def _has(names: Iterable[str], wanted: str) -> bool:
    """`wanted` is one of `names`, case-blind, as whole words ("Hitchcock" finds "Alfred
    Hitchcock"; "Ron Howard" does not find "Byron Howard")."""
    pattern = re.compile(rf"(?<!\w){re.escape(wanted)}(?!\w)", re.I)
    return any(pattern.search(n) for n in names)


def _directors(f: Film) -> tuple[str, ...]:
    return tuple(d.strip() for d in (f.director or "").split(",") if d.strip())


_RATINGS: dict[Path, dict[int, tuple[float, int]]] = {}


def movielens_ratings(ml_dir: Path = MOVIELENS_DIR) -> dict[int, tuple[float, int]]:
    """IMDb id -> (mean rating, number of ratings) of every MovieLens film with a link (cached):
    the `avg_rating` / `num_ratings` the ingest computes for the catalog row of that film."""
    if ml_dir not in _RATINGS:
        imdb_of: dict[int, int] = {}
        with open(ml_dir / "links.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["imdbId"]:
                    imdb_of[int(row["movieId"])] = int(row["imdbId"])
        sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
        with open(ml_dir / "ratings.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if (imdb := imdb_of.get(int(row["movieId"]))) is not None:
                    acc = sums[imdb]
                    acc[0] += float(row["rating"])
                    acc[1] += 1
        _RATINGS[ml_dir] = {i: (total / n, int(n)) for i, (total, n) in sums.items()}
    return _RATINGS[ml_dir]


def _value(f: Film, column: str) -> Any:
    if column in ("avg_rating", "num_ratings"):
        stats = movielens_ratings().get(f.imdb) if f.imdb is not None else None
        if stats is None:
            return None
        return stats[0] if column == "avg_rating" else stats[1]
    return getattr(f, column)


def _keep(f: Film, spec: Mapping[str, Any]) -> bool:  # noqa: C901 - one test per key, read top to bottom
    directors = _directors(f)
    if any(not _has(directors, d) for d in _as_list(spec.get("director"))):  # all of
        return False
    if (ds := _as_list(spec.get("director_any"))) and not any(_has(directors, d) for d in ds):
        return False
    if any(not _has(f.actors, a) for a in _as_list(spec.get("actor"))):  # all of
        return False
    if (acts := _as_list(spec.get("actor_any"))) and not any(_has(f.actors, a) for a in acts):
        return False
    if (ps := _as_list(spec.get("people_any"))) and not any(_has(directors + f.actors + f.writers, p) for p in ps):
        return False
    genres = {g.casefold() for g in f.genres}
    if any(g.casefold() not in genres for g in _as_list(spec.get("genre"))):
        return False
    if (gs := _as_list(spec.get("genre_any"))) and not any(g.casefold() in genres for g in gs):
        return False
    if any(g.casefold() in genres for g in _as_list(spec.get("genre_none"))):
        return False
    if (cs := _as_list(spec.get("country"))) and not any(c.casefold() in {x.casefold() for x in f.countries} for c in cs):
        return False
    if (ls := _as_list(spec.get("language"))) and (f.language or "").casefold() not in {x.casefold() for x in ls}:
        return False
    if spec.get("year_min") is not None and (f.year is None or f.year < spec["year_min"]):
        return False
    if spec.get("year_max") is not None and (f.year is None or f.year > spec["year_max"]):
        return False
    if (w := spec.get("title_words")) and not all(x.casefold() in f.title.casefold() for x in _as_list(w)):
        return False
    # durations: _gt / _lt strict ("over 2 hours", "under 90 minutes"), _min / _max inclusive ("between")
    d = f.duration_min
    if spec.get("duration_min_gt") is not None and (d or 0) <= spec["duration_min_gt"]:
        return False
    if spec.get("duration_max_lt") is not None and (d is None or d >= spec["duration_max_lt"]):
        return False
    if spec.get("duration_min") is not None and (d is None or d < spec["duration_min"]):
        return False
    if spec.get("duration_max") is not None and (d is None or d > spec["duration_max"]):
        return False
    # MovieLens thresholds: a film without ratings has no average and never passes one
    if any(k in spec for k in ("rating_min", "rating_gt", "rating_max", "rating_lt", "num_ratings_min")):
        avg, n = _value(f, "avg_rating"), _value(f, "num_ratings")
        if avg is None:
            return False
        if spec.get("rating_min") is not None and avg < spec["rating_min"]:
            return False
        if spec.get("rating_gt") is not None and avg <= spec["rating_gt"]:
            return False
        if spec.get("rating_max") is not None and avg > spec["rating_max"]:
            return False
        if spec.get("rating_lt") is not None and avg >= spec["rating_lt"]:
            return False
        if spec.get("num_ratings_min") is not None and n < spec["num_ratings_min"]:
            return False
    return not any(norm_title(f.title) == norm_title(t) and f.year == y for t, y in spec.get("exclude") or [])


def select(films: Iterable[Film], spec: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """(title, year) of the films matching every key of `spec`, ordered by year then title.

    With `top_by` (a column: duration_min, year, avg_rating, num_ratings) only the top `top`
    rows (default 1) by that column remain, ties with the last one included; `order: asc` for
    the smallest ("the shortest", "the oldest"), descending otherwise. With `rank: N` too, the
    rows holding the N-th distinct value instead ("the second longest"). `position: N` keeps the
    N-th film of the list in that order (-1: the last), as "tell me about the third one" picks it.
    """
    films = list(films)
    kept = [f for f in films if _keep(f, spec)]
    kept.sort(key=lambda f: (f.year or 0, f.title))
    if column := spec.get("top_by"):
        asc = spec.get("order", "desc") == "asc"
        valued = [(f, _value(f, column)) for f in kept if _value(f, column) is not None]
        valued.sort(key=lambda fv: fv[1] if asc else -fv[1])
        top = int(spec.get("top", 1))
        if rank := spec.get("rank"):
            distinct = sorted({v for _, v in valued}, reverse=not asc)
            valued = [(f, v) for f, v in valued if len(distinct) >= rank and v == distinct[rank - 1]]
        elif len(valued) > top:
            cutoff = valued[top - 1][1]
            valued = [(f, v) for f, v in valued if (v <= cutoff if asc else v >= cutoff)]
        kept = [f for f, _ in valued]
    if (position := spec.get("position")) is not None:
        index = position - 1 if position > 0 else len(kept) + position
        kept = [kept[index]] if 0 <= index < len(kept) else []
    return [(f.title, f.year) for f in kept]


def _course_film(films: Iterable[Film], title: str, year: int | None) -> Film:
    found = [f for f in films if norm_title(f.title) == norm_title(title) and (year is None or f.year == year)]
    if len(found) != 1:
        raise ValueError(f"{title} ({year}) names {len(found)} course films, not one")
    return found[0]


def fact(films: list[Film], spec: Mapping[str, Any]) -> list[str | list[str]]:
    """What the first sentence of the answer to a fact question must hold: a list of entries,
    each a string or a list of alternatives (any one will do)."""
    title, year = spec["fact"]
    f = _course_film(films, str(title), int(year) if year is not None else None)
    field = spec["field"]
    if field == "director":
        return list(_directors(f))
    if field == "year":
        return [str(f.year)]
    if field == "duration_min":
        d = f.duration_min or 0
        return [[f"{d} min", f"{d} minutes", f"{d}-minute", f"{d // 60} h {d % 60:02d}", f"{d // 60}h{d % 60:02d}"]]
    if field == "actors":
        return list(f.actors[: int(spec.get("n", 2))])
    if field == "summary":
        return [" ".join(f.summary.split()[: int(spec.get("words", 5))])]
    if field == "avg_rating":
        avg = _value(f, "avg_rating")
        if avg is None:
            raise ValueError(f"{title} ({year}) has no MovieLens ratings")
        return [sorted({f"{avg:.1f}", f"{avg:.2f}", f"{math.floor(avg * 10) / 10:.1f}", f"{math.ceil(avg * 10) / 10:.1f}"})]
    if field == "genres":
        return list(f.genres)
    if field == "country":
        return list(f.countries)
    if field == "language":
        return [f.language or ""]
    raise ValueError(f"fact field {field!r} is not one this script derives")


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


def _groups(films: list[Film], spec: Mapping[str, Any]) -> dict[str, list[Film]]:
    """The films `spec` keeps (as in `select`, without its group keys), by `spec["group"]`:
    director, actor, writer, genre, country, decade or year."""
    names_of = {
        "director": _directors, "actor": lambda f: f.actors, "writer": lambda f: f.writers,
        "genre": lambda f: f.genres, "country": lambda f: f.countries,
        "decade": lambda f: (f"{f.year // 10 * 10}s",) if f.year else (), "year": lambda f: (str(f.year),) if f.year else (),
    }[spec["group"]]
    out: dict[str, list[Film]] = defaultdict(list)
    for f in films:
        if _keep(f, {k: v for k, v in spec.items() if k not in ("group", "top_by", "order")}):
            for name in set(names_of(f)):
                out[name].append(f)
    return out


def group_lead(films: list[Film], spec: Mapping[str, Any]) -> list[str]:
    """What the first sentence of "which <group> has the most films" must hold: the top group
    (every one tied at the top, by name) and its film count."""
    counts = {name: len(v) for name, v in _groups(films, spec).items()}
    most = max(counts.values())
    return [*sorted(n for n, c in counts.items() if c == most), f"{most} films"]


def group_top(films: list[Film], spec: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """"The longest film of each decade": every group's films at the top of `top_by` (ties
    kept; `order: asc` for the smallest), as (title, year), each film once."""
    asc = spec.get("order", "desc") == "asc"
    out: dict[tuple[str, int | None], None] = {}
    for members in _groups(films, spec).values():
        valued = [(f, _value(f, spec["top_by"])) for f in members if _value(f, spec["top_by"]) is not None]
        if valued:
            best = (min if asc else max)(v for _, v in valued)
            out.update({(f.title, f.year): None for f, v in valued if v == best})
    return sorted(out, key=lambda t: (t[1] or 0, t[0]))


def derive(spec: Mapping[str, Any], films: list[Film]) -> list[Any]:
    if "fact" in spec:
        return fact(films, spec)
    if "group" in spec:
        return group_top(films, spec) if "top_by" in spec else group_lead(films, spec)
    if "co_liked" in spec:
        seed = spec["co_liked"]
        return co_liked(films, (seed[0], int(seed[1])), n=int(spec.get("n", 10)))
    return select(films, spec)


def _pairs(values: Iterable[Any]) -> list[tuple[str, int | None]]:
    return [(str(v[0]), int(v[1]) if v[1] is not None else None) for v in values]


def _disagreements(where: str, spec: Mapping[str, Any], expect: Mapping[str, Any], films: list[Film]) -> list[str]:
    """How `expect` differs from what `spec` derives (empty when they agree)."""
    got = derive(spec, films)
    if "fact" in spec or ("group" in spec and "top_by" not in spec):
        want = expect.get("lead")
        return [] if want == got else [f"{where}: expect.lead {want} != derived {got}"]
    out = []
    keys = [k for k in ("exact", "top", "relevant") if k in expect] or ([] if "count" in expect else ["relevant"])
    for k in keys:
        want_rows = _pairs(expect.get(k) or [])
        derived = got
        if k == "exact" and "top" in expect:  # "sort them by rating": the whole set, its top row first
            derived = derive({n: v for n, v in spec.items() if n not in ("top_by", "order", "top")}, films)
        if sorted(want_rows, key=str) != sorted(derived, key=str):
            out.append(f"{where}: expect.{k} {want_rows} != derived {derived}")
    counted = len(_pairs(expect["exact"])) if "exact" in expect else len(got)
    if "count" in expect and expect["count"] != counted:
        out.append(f"{where}: expect.count {expect['count']} != derived {counted}")
    return out


def check(path: Path = QUESTIONS) -> list[str]:
    """Problems: items whose expected titles differ from their derivation, or name no course film."""
    doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
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
            for title, year in _pairs(expect.get("top") or []):
                if (norm_title(title), year) not in known:
                    problems.append(f"{where}: {title} ({year}) is not a course film")
            if "derive" not in turn:
                continue
            problems += _disagreements(where, turn["derive"], expect, films)
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
