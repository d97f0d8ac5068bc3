"""The rule reader against the course catalog's real vocabulary (built here from movies.json,
no database): names resolve the way the catalog spells and shares them."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from conftest import COURSE_MOVIES

from chatbot.understand import read_plan
from retrieval.plan import Filters, Names, QueryPlan, Range, Sort, Vocabulary


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    if not COURSE_MOVIES.exists():
        pytest.skip(f"course catalog not found at {COURSE_MOVIES}")
    films = json.loads(COURSE_MOVIES.read_text())["films"]["film"]
    kinds: dict[str, set[str]] = {k: set() for k in ("directors", "actors", "writers", "genres", "countries", "languages")}
    credits: Counter[str] = Counter()
    for f in films:
        people = {
            "directors": [d["__text"] for d in _list(f.get("realisateur"))],
            "actors": [r["acteur"]["__text"] for r in _list(f.get("role")) if isinstance(r, dict) and r.get("acteur")],
            "writers": [str(w) for w in _list(f.get("scenariste"))],
        }
        for kind, names in people.items():
            kinds[kind].update(names)
        credits.update({n for names in people.values() for n in names})
        kinds["genres"].update(_list(f.get("genre")))
        kinds["countries"].update(_list(f.get("pays")))
        kinds["languages"].update(_list(f.get("langue")))
    return Vocabulary(**{k: frozenset(v) for k, v in kinds.items()}, credits=dict(credits))


def test_the_catalog_really_shares_these_surnames(vocab: Vocabulary) -> None:
    people = vocab.directors | vocab.actors | vocab.writers
    assert {"Anne Spielberg", "Patricia Hitchcock", "Colin Hanks", "Paul Freeman"} <= people


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which Hitchcock films are in the catalog?", QueryPlan(intent="list", filters=Filters(directors=Names(all_of=("Alfred Hitchcock",))))),
        ("List every Spielberg movie you have", QueryPlan(intent="list", filters=Filters(directors=Names(all_of=("Steven Spielberg",))))),
        ("Hanks movies longer than two hours", QueryPlan(intent="list", filters=Filters(
            actors=Names(all_of=("Tom Hanks",)), duration_min=Range(min=121)))),
        ("films with both De Niro and Pacino", QueryPlan(intent="list", filters=Filters(
            actors=Names(all_of=("Robert De Niro", "Al Pacino"))))),
        ("movies directed by Tarantino or Scorsese", QueryPlan(intent="list", filters=Filters(
            directors=Names(any_of=("Quentin Tarantino", "Martin Scorsese"))))),
        ("Freeman movies", QueryPlan(intent="list", filters=Filters(actors=Names(all_of=("Morgan Freeman",))))),
        ("films by Kurosawa", QueryPlan(intent="list", filters=Filters(directors=Names(all_of=("Akira Kurosawa",))))),
        ("movies starring Toshiro Mifune", QueryPlan(intent="list", filters=Filters(actors=Names(all_of=("Toshirô Mifune",))))),
        ("Italian movies", QueryPlan(intent="list", filters=Filters(either=(
            Filters(countries=Names(any_of=("Italy",))), Filters(languages=Names(any_of=("Italian",))))))),
        ("Japanese-language films", QueryPlan(intent="list", filters=Filters(languages=Names(any_of=("Japanese",))))),
        ("German films", QueryPlan(intent="list", filters=Filters(either=(
            Filters(countries=Names(any_of=("Germany", "West Germany"))), Filters(languages=Names(any_of=("German",))))))),
        ("British comedies", QueryPlan(intent="list", filters=Filters(
            genres=Names(all_of=("Comedy",)), countries=Names(any_of=("UK",))))),
        ("What is the oldest film in the catalog?", QueryPlan(intent="superlative", sort=Sort(key="year"), limit=1)),
        ("movies set in New York", QueryPlan(intent="search", semantic="set in New York")),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_course_vocabulary(vocab: Vocabulary, question: str, expected: QueryPlan) -> None:
    assert read_plan(question, vocab) == expected
