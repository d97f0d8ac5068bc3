"""The rule reader: ordinary questions -> the exact `QueryPlan` (whole objects compared).

The vocabulary mirrors the course catalog's spelling (countries "USA"/"UK", languages "Italian",
genres "Sci-Fi"), including the surnames it really shares: Anne Spielberg (a writer), Patricia
Hitchcock and Colin Hanks (actors), Ridley and Tony Scott (directors), Jonathan Nolan (a writer).
"""

from __future__ import annotations

import pytest

from chatbot.understand import read_plan
from retrieval.plan import Filters, Names, QueryPlan, Range, Sort, Vocabulary

DIRECTORS = {
    "Steven Spielberg": 15, "Alfred Hitchcock": 11, "Stanley Kubrick": 9, "Quentin Tarantino": 5,
    "Martin Scorsese": 6, "Christopher Nolan": 4, "Ridley Scott": 6, "Tony Scott": 3, "Clint Eastwood": 6,
    "Sergio Leone": 4, "Akira Kurosawa": 4, "Francis Ford Coppola": 4, "Michael Mann": 3, "James Cameron": 5,
    "Billy Wilder": 6, "Alejandro González Iñárritu": 2, "Pedro Almodóvar": 1, "Peter Jackson": 4,
    "Mick Jackson": 1, "Roberto Benigni": 1, "M. Night Shyamalan": 3, "Federico Fellini": 2,
}
ACTORS = {
    "Tom Hanks": 11, "Colin Hanks": 1, "Robert De Niro": 9, "Al Pacino": 6, "Patricia Hitchcock": 1,
    "Clint Eastwood": 8, "Martin Scorsese": 1, "Quentin Tarantino": 2, "Morgan Freeman": 8,
    "Paul Freeman": 1, "Harrison Ford": 10, "Tom Cruise": 7, "Brad Pitt": 8, "Samuel L. Jackson": 7,
    "Roberto Benigni": 1, "Toshirô Mifune": 3, "Marcello Mastroianni": 1, "Will Smith": 6, "Maggie Smith": 5,
    "Ahmed Best": 1, "Christopher Lee": 4,
}
WRITERS = {
    "Anne Spielberg": 1, "Quentin Tarantino": 5, "Christopher Nolan": 4, "Jonathan Nolan": 3,
    "Billy Wilder": 5, "Francis Ford Coppola": 3, "Mario Puzo": 2, "Roberto Benigni": 1,
}
CREDITS: dict[str, int] = {}
for table in (DIRECTORS, ACTORS, WRITERS):
    for name, n in table.items():
        CREDITS[name] = CREDITS.get(name, 0) + n
VOCAB = Vocabulary(
    directors=frozenset(DIRECTORS), actors=frozenset(ACTORS), writers=frozenset(WRITERS),
    genres=frozenset({
        "Drama", "Comedy", "Thriller", "Action", "Adventure", "Romance", "Crime", "Family", "Fantasy",
        "Sci-Fi", "Mystery", "Animation", "War", "Horror", "Biography", "Musical", "Sport", "History",
        "Western", "Film-Noir", "Music", "Documentary",
    }),
    countries=frozenset({
        "USA", "UK", "Germany", "France", "Italy", "Canada", "Japan", "Australia", "Hong Kong",
        "New Zealand", "Czech Republic", "Spain", "West Germany", "Sweden", "Mexico", "Brazil", "India",
        "Austria", "South Africa", "Malta", "Algeria", "Taiwan", "China", "South Korea", "Poland",
    }),
    languages=frozenset({
        "English", "Italian", "Japanese", "French", "German", "Swedish", "Portuguese", "Mandarin",
        "Spanish", "Cantonese", "Korean", "Aramaic",
    }),
    credits=CREDITS,
)

JAWS = (11, "Jaws", 1975)
PULP = (12, "Pulp Fiction", 1994)
ALIEN = (13, "Alien", 1979)
NEMO = (14, "Finding Nemo", 2003)
GODFATHER = (15, "The Godfather", 1972)
KONG = (16, "King Kong", 1933)
KONG05 = (17, "King Kong", 2005)
STAR_WARS = (18, "Star Wars", 1977)
JURASSIC = (19, "Jurassic Park", 1993)


def all_(*names: str) -> Names:
    return Names(all_of=names)


def any_(*names: str) -> Names:
    return Names(any_of=names)


def none_(*names: str) -> Names:
    return Names(none_of=names)


def span(lo: float | None = None, hi: float | None = None) -> Range:
    return Range(min=lo, max=hi)


def plan(intent: str, **kw: object) -> QueryPlan:
    """A plan; filter fields (year=..., genres=...) may be given directly."""
    filter_keys = set(Filters.model_fields)
    f = {k: kw.pop(k) for k in list(kw) if k in filter_keys}
    return QueryPlan.model_validate({"intent": intent, "filters": Filters(**f), **kw})


ITALIAN = (Filters(countries=any_("Italy")), Filters(languages=any_("Italian")))
LONGEST = Sort(key="duration_min", desc=True)
SHORTEST = Sort(key="duration_min")
OLDEST = Sort(key="year")
NEWEST = Sort(key="year", desc=True)
BEST = Sort(key="avg_rating", desc=True)
POPULAR = Sort(key="num_ratings", desc=True)

CASES: list[tuple[str, tuple, bool, QueryPlan]] = [
    # --- the issue's own examples ---
    ("What is the oldest film in the catalog?", (), False, plan("superlative", sort=OLDEST, limit=1)),
    ("comedies shorter than 90 minutes", (), False, plan("list", genres=all_("Comedy"), duration_min=span(hi=89))),
    ("List every Steven Spielberg movie you have", (), False, plan("list", directors=all_("Steven Spielberg"))),
    ("Which Hitchcock films are in the catalog?", (), False, plan("list", directors=all_("Alfred Hitchcock"))),
    ("films with both Robert De Niro and Al Pacino", (), False, plan("list", actors=all_("Robert De Niro", "Al Pacino"))),
    ("Tom Hanks movies longer than two hours", (), False, plan("list", actors=all_("Tom Hanks"), duration_min=span(121))),
    ("Japanese-language films", (), False, plan("list", languages=any_("Japanese"))),
    ("Italian movies", (), False, plan("list", either=ITALIAN)),
    ("animated movies from 2005 or later", (), False, plan("list", genres=all_("Animation"), year=span(2005))),
    ("movies directed by Quentin Tarantino or Martin Scorsese", (), False,
     plan("list", directors=any_("Quentin Tarantino", "Martin Scorsese"))),
    ("How many movies star Tom Hanks?", (), False, plan("count", actors=all_("Tom Hanks"))),
    ("Which movie is the longest?", (), False, plan("superlative", sort=LONGEST, limit=1)),
    ("Who directed Pulp Fiction?", (PULP,), False, plan("fact", fields=("director",), anchors=(12,))),
    ("which of those came out in the 80s?", (), True, plan("list", scope="previous", year=span(1980, 1989))),
    ("and which is the shortest?", (), True, plan("superlative", scope="previous", sort=SHORTEST, limit=1)),
    ("only the comedies", (), True, plan("list", scope="previous", genres=all_("Comedy"))),
    ("sort them by rating", (), True, plan("list", scope="previous", sort=BEST)),
]


@pytest.mark.parametrize(("question", "titles", "previous", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reads_the_exact_plan(question: str, titles: tuple, previous: bool, expected: QueryPlan) -> None:
    assert read_plan(question, VOCAB, titles=titles, has_previous=previous) == expected
