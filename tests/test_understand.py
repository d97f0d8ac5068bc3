"""The rule reader: ordinary questions -> the exact `QueryPlan` (whole objects compared).

The vocabulary mirrors the course catalog's spelling (countries "USA"/"UK", languages "Italian",
genres "Sci-Fi"), including the surnames it really shares: Anne Spielberg (a writer), Patricia
Hitchcock and Colin Hanks (actors), Ridley and Tony Scott (directors), Jonathan Nolan (a writer).
"""

from __future__ import annotations

import pytest

from chatbot.understand import read_plan
from chatbot.understand.numbers import decade_span, minutes
from retrieval.plan import Compare, Filters, Group, Names, QueryPlan, Range, Sort, Vocabulary

DIRECTORS = {
    "Steven Spielberg": 15, "Alfred Hitchcock": 11, "Stanley Kubrick": 9, "Quentin Tarantino": 5,
    "Martin Scorsese": 6, "Christopher Nolan": 4, "Ridley Scott": 6, "Tony Scott": 3, "Clint Eastwood": 6,
    "Sergio Leone": 4, "Akira Kurosawa": 4, "Francis Ford Coppola": 4, "Michael Mann": 3, "James Cameron": 5,
    "Billy Wilder": 6, "Alejandro González Iñárritu": 2, "Pedro Almodóvar": 1, "Peter Jackson": 4,
    "Mick Jackson": 1, "Roberto Benigni": 1, "M. Night Shyamalan": 3, "Federico Fellini": 2,
    "Charles Chaplin": 5, "Woody Allen": 3, "Sylvester Stallone": 2,
}
ACTORS = {
    "Tom Hanks": 11, "Colin Hanks": 1, "Robert De Niro": 9, "Al Pacino": 6, "Patricia Hitchcock": 1,
    "Clint Eastwood": 8, "Martin Scorsese": 1, "Quentin Tarantino": 2, "Morgan Freeman": 8,
    "Paul Freeman": 1, "Harrison Ford": 10, "Tom Cruise": 7, "Brad Pitt": 8, "Samuel L. Jackson": 7,
    "Roberto Benigni": 1, "Toshirô Mifune": 3, "Marcello Mastroianni": 1, "Will Smith": 6, "Maggie Smith": 5,
    "Ahmed Best": 1, "Christopher Lee": 4, "Bruce Willis": 9, "Leonardo DiCaprio": 7, "Jim Carrey": 8,
    "Meg Ryan": 4, "Charles Chaplin": 5, "Humphrey Bogart": 4, "Robin Williams": 9, "Michael York": 2,
    "Susannah York": 1, "Harrison Young": 1, "Naunton Wayne": 1, "Sylvester Stallone": 6,
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


def span(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> Range:
    return Range(min=lo, max=hi, min_open=lo_open, max_open=hi_open)


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
    # --- superlatives over the whole catalog: no semantic phrase from "old" / "long" ---
    ("Which is the oldest movie?", (), False, plan("superlative", sort=OLDEST, limit=1)),
    ("what's the newest film you have", (), False, plan("superlative", sort=NEWEST, limit=1)),
    ("the most recent movie in the collection", (), False, plan("superlative", sort=NEWEST, limit=1)),
    ("Show me the shortest film.", (), False, plan("superlative", sort=SHORTEST, limit=1)),
    ("What are the longest movies?", (), False, plan("superlative", sort=LONGEST, limit=10)),
    ("the 3 longest war films", (), False, plan("superlative", genres=all_("War"), sort=LONGEST, limit=3)),
    ("the three oldest westerns", (), False, plan("superlative", genres=all_("Western"), sort=OLDEST, limit=3)),
    ("Top 5 comedies", (), False, plan("superlative", genres=all_("Comedy"), sort=BEST, limit=5)),
    ("top ten highest rated movies", (), False, plan("superlative", sort=BEST, limit=10)),
    ("best rated sci-fi film", (), False, plan("superlative", genres=all_("Sci-Fi"), sort=BEST, limit=1)),
    ("What is the best-rated Hitchcock movie?", (), False,
     plan("superlative", directors=all_("Alfred Hitchcock"), sort=BEST, limit=1)),
    ("Which Spielberg film is the longest?", (), False,
     plan("superlative", directors=all_("Steven Spielberg"), sort=LONGEST, limit=1)),
    ("Kubrick's longest film", (), False, plan("superlative", directors=all_("Stanley Kubrick"), sort=LONGEST, limit=1)),
    ("the worst rated movie", (), False, plan("superlative", sort=Sort(key="avg_rating"), limit=1)),
    ("most popular films", (), False, plan("superlative", sort=POPULAR, limit=10)),
    ("What's the most popular Tom Hanks movie?", (), False,
     plan("superlative", actors=all_("Tom Hanks"), sort=POPULAR, limit=1)),
    ("earliest animated film", (), False, plan("superlative", genres=all_("Animation"), sort=OLDEST, limit=1)),
    ("the 5 newest horror movies", (), False, plan("superlative", genres=all_("Horror"), sort=NEWEST, limit=5)),
    ("Who directed the longest movie?", (), False, plan("superlative", sort=LONGEST, limit=1, fields=("director",))),
    ("oldest Italian film", (), False, plan("superlative", either=ITALIAN, sort=OLDEST, limit=1)),
    ("shortest movie from the 90s", (), False, plan("superlative", year=span(1990, 1999), sort=SHORTEST, limit=1)),
    ("longest film directed by Steven Spielberg?", (), False,
     plan("superlative", directors=all_("Steven Spielberg"), sort=LONGEST, limit=1)),
    # --- counts ---
    ("how many films are in the catalog?", (), False, plan("count")),
    ("How many Hitchcock films do you have?", (), False, plan("count", directors=all_("Alfred Hitchcock"))),
    ("how many westerns are there", (), False, plan("count", genres=all_("Western"))),
    ("Number of movies from 1994", (), False, plan("count", year=span(1994, 1994))),
    ("count the comedies from the 80s", (), False, plan("count", genres=all_("Comedy"), year=span(1980, 1989))),
    ("How many films did Ridley Scott direct?", (), False, plan("count", directors=all_("Ridley Scott"))),
    ("how many Japanese movies", (), False,
     plan("count", either=(Filters(countries=any_("Japan")), Filters(languages=any_("Japanese"))))),
    ("how many of them are comedies?", (), True, plan("count", scope="previous", genres=all_("Comedy"))),
    ("How many movies are longer than 3 hours?", (), False, plan("count", duration_min=span(181))),
    # --- facts about a named title ---
    ("who directed jaws", (JAWS,), False, plan("fact", fields=("director",), anchors=(11,))),
    ("When was Jaws released?", (JAWS,), False, plan("fact", fields=("year",), anchors=(11,))),
    ("What year did Pulp Fiction come out?", (PULP,), False, plan("fact", fields=("year",), anchors=(12,))),
    ("How long is The Godfather?", (GODFATHER,), False, plan("fact", fields=("duration_min",), anchors=(15,))),
    ("What's the running time of Alien", (ALIEN,), False, plan("fact", fields=("duration_min",), anchors=(13,))),
    ("Who stars in Heat?", ((20, "Heat", 1995),), False, plan("fact", fields=("actors",), anchors=(20,))),
    ("cast of Finding Nemo", (NEMO,), False, plan("fact", fields=("actors",), anchors=(14,))),
    ("What is Alien about?", (ALIEN,), False, plan("fact", fields=("summary",), anchors=(13,))),
    ("Give me the plot of Jurassic Park", (JURASSIC,), False, plan("fact", fields=("summary",), anchors=(19,))),
    ("Who wrote The Godfather?", (GODFATHER,), False, plan("fact", fields=("writers",), anchors=(15,))),
    ("what genre is Alien", (ALIEN,), False, plan("fact", fields=("genres",), anchors=(13,))),
    ("How is Pulp Fiction rated?", (PULP,), False, plan("fact", fields=("avg_rating",), anchors=(12,))),
    ("What is the average rating of Pulp Fiction?", (PULP,), False, plan("fact", fields=("avg_rating",), anchors=(12,))),
    ("Pulp Fiction average rating", (PULP,), False, plan("fact", fields=("avg_rating",), anchors=(12,))),
    ("what's the rating of Jaws?", (JAWS,), False, plan("fact", fields=("avg_rating",), anchors=(11,))),
    ("How many ratings does Jaws have?", (JAWS,), False, plan("fact", fields=("num_ratings",), anchors=(11,))),
    ("Which country was Star Wars made in?", (STAR_WARS,), False, plan("fact", fields=("country",), anchors=(18,))),
    ("what language is The Godfather in", (GODFATHER,), False, plan("fact", fields=("language",), anchors=(15,))),
    ("Who directed Jaws and when was it released?", (JAWS,), False,
     plan("fact", fields=("director", "year"), anchors=(11,))),
    ("Who directed King Kong (1933)?", (KONG,), False, plan("fact", fields=("director",), anchors=(16,))),
    ("Tell me about Finding Nemo", (NEMO,), False, plan("fact", anchors=(14,))),
    ("Jaws", (JAWS,), False, plan("fact", anchors=(11,))),
    ("who directed it?", (), True, plan("fact", scope="previous", fields=("director",))),
    # --- similar ---
    ("movies like Finding Nemo", (NEMO,), False, plan("similar", anchors=(14,), exclude_ids=(14,))),
    ("Films similar to King Kong 1933", (KONG,), False, plan("similar", anchors=(16,), exclude_ids=(16,))),
    ("something like Alien but from the 90s", (ALIEN,), False,
     plan("similar", anchors=(13,), exclude_ids=(13,), year=span(1990, 1999))),
    ("comedies similar to Pulp Fiction", (PULP,), False,
     plan("similar", anchors=(12,), exclude_ids=(12,), genres=all_("Comedy"))),
    ("Any movies in the vein of Jaws?", (JAWS,), False, plan("similar", anchors=(11,), exclude_ids=(11,))),
    # a comparison of the films named, first named first (whatever order the catalog found them in)
    ("is Jaws longer than Alien?", (ALIEN, JAWS), False,
     plan("fact", fields=("duration_min",), anchors=(11, 13), compare=Compare(field="duration_min"))),
    ("was Alien made earlier than Jaws", (JAWS, ALIEN), False,
     plan("fact", fields=("year",), anchors=(13, 11), compare=Compare(field="year", more=False))),
    ("Is Pulp Fiction rated higher than Jaws?", (JAWS, PULP), False,
     plan("fact", fields=("avg_rating",), anchors=(12, 11), compare=Compare(field="avg_rating"))),
    ("films like Jaws and Alien", (JAWS, ALIEN), False,
     plan("similar", anchors=(11, 13), exclude_ids=(11, 13))),
    # --- recommend ---
    ("I liked Finding Nemo, what should I watch?", (NEMO,), False, plan("recommend", anchors=(14,))),
    ("Recommend me a comedy", (), False, plan("recommend", genres=all_("Comedy"))),
    ("can you suggest some 90s thrillers?", (), False,
     plan("recommend", genres=all_("Thriller"), year=span(1990, 1999))),
    ("what should I watch tonight?", (), False, plan("recommend")),
    ("recommend 3 movies like Alien", (ALIEN,), False, plan("similar", anchors=(13,), exclude_ids=(13,), limit=3)),
    # --- plot / mood search ---
    ("movies about a heist gone wrong", (), False, plan("search", semantic="a heist gone wrong")),
    ("a film where the hero dies at the end", (), False, plan("search", semantic="the hero dies at the end")),
    ("comedies about a wedding", (), False, plan("search", genres=all_("Comedy"), semantic="a wedding")),
    ("90s movies about time travel", (), False, plan("search", year=span(1990, 1999), semantic="time travel")),
    ("Spielberg films about aliens", (), False,
     plan("search", directors=all_("Steven Spielberg"), semantic="aliens")),
    ("films set in space", (), False, plan("search", semantic="set in space")),
    ("Movies involving a shark", (), False, plan("search", semantic="a shark")),
    ("something with a twist ending", (), False, plan("search", semantic="with a twist ending")),
    ("feel-good movies", (), False, plan("search", semantic="feel-good")),
    ("heist movies", (), False, plan("search", semantic="heist", confidence=0.6)),
    ("a lonely robot cleans up a deserted Earth", (), False,
     plan("search", semantic="a lonely robot cleans up a deserted Earth")),
    ("the longest movie about war", (), False, plan("superlative", sort=LONGEST, limit=1, semantic="war")),
    # --- years ---
    ("films from 1994", (), False, plan("list", year=span(1994, 1994))),
    ("movies released in 1999", (), False, plan("list", year=span(1999, 1999))),
    ("comedies between 1980 and 1989", (), False, plan("list", genres=all_("Comedy"), year=span(1980, 1989))),
    ("dramas from 1990 to 1995", (), False, plan("list", genres=all_("Drama"), year=span(1990, 1995))),
    ("thrillers 1995-1999", (), False, plan("list", genres=all_("Thriller"), year=span(1995, 1999))),
    ("movies before 1950", (), False, plan("list", year=span(hi=1949))),
    ("films made after 2000", (), False, plan("list", year=span(2001))),
    ("Westerns since 1990", (), False, plan("list", genres=all_("Western"), year=span(1990))),
    ("Horror movies from the 80s", (), False, plan("list", genres=all_("Horror"), year=span(1980, 1989))),
    ("films of the 1970s", (), False, plan("list", year=span(1970, 1979))),
    ("movies from the early 80s", (), False, plan("list", year=span(1980, 1983))),
    ("late 90s action flicks", (), False, plan("list", genres=all_("Action"), year=span(1996, 1999))),
    ("mid-60s westerns", (), False, plan("list", genres=all_("Western"), year=span(1963, 1966))),
    ("sci-fi from the nineties", (), False, plan("list", genres=all_("Sci-Fi"), year=span(1990, 1999))),
    ("anything from the '50s?", (), False, plan("list", year=span(1950, 1959))),
    ("films from 2005 or later", (), False, plan("list", year=span(2005))),
    ("movies from 1960 or earlier", (), False, plan("list", year=span(hi=1960))),
    ("pictures made between the 40s and the 60s", (), False, plan("list", year=span(1940, 1969))),
    ("movies after 1990 and before 2000", (), False, plan("list", year=span(1991, 1999))),
    ("films from the 2000s", (), False, plan("list", year=span(2000, 2009))),
    ("movies up to 1939", (), False, plan("list", year=span(hi=1939))),
    ("20th century war films", (), False, plan("list", genres=all_("War"), year=span(1901, 2000))),
    # --- running time ---
    ("movies under 90 minutes", (), False, plan("list", duration_min=span(hi=89))),
    ("films less than 2 hours long", (), False, plan("list", duration_min=span(hi=119))),
    ("movies over 3 hours", (), False, plan("list", duration_min=span(181))),
    ("films that run at least 150 minutes", (), False, plan("list", duration_min=span(150))),
    ("between 90 and 120 minutes", (), False, plan("list", duration_min=span(90, 120))),
    ("dramas between one and a half and two hours", (), False,
     plan("list", genres=all_("Drama"), duration_min=span(90, 120))),
    ("comedies of 100 minutes or less", (), False, plan("list", genres=all_("Comedy"), duration_min=span(hi=100))),
    ("movies no longer than an hour and a half", (), False, plan("list", duration_min=span(hi=90))),
    ("films with a runtime under 100", (), False, plan("list", duration_min=span(hi=99))),
    ("movies around two hours long", (), False, plan("list", duration_min=span(110, 130))),
    ("westerns longer than 2.5 hours", (), False, plan("list", genres=all_("Western"), duration_min=span(151))),
    # --- genres ---
    ("comedies but not romance", (), False, plan("list", genres=Names(all_of=("Comedy",), none_of=("Romance",)))),
    ("action or adventure movies", (), False, plan("list", genres=any_("Action", "Adventure"))),
    ("romantic comedies", (), False, plan("list", genres=all_("Romance", "Comedy"))),
    ("animated films", (), False, plan("list", genres=all_("Animation"))),
    ("Show me some horror comedies", (), False, plan("list", genres=all_("Horror", "Comedy"))),
    ("dramas that are not war films", (), False, plan("list", genres=Names(all_of=("Drama",), none_of=("War",)))),
    ("crime thrillers without any romance", (), False,
     plan("list", genres=Names(all_of=("Crime", "Thriller"), none_of=("Romance",)))),
    ("either a western or a war movie", (), False, plan("list", genres=any_("Western", "War"))),
    ("science fiction movies", (), False, plan("list", genres=all_("Sci-Fi"))),
    ("film noir", (), False, plan("list", genres=all_("Film-Noir"))),
    ("any good documentaries?", (), False, plan("list", genres=all_("Documentary"))),
    ("family movies from the 90s", (), False, plan("list", genres=all_("Family"), year=span(1990, 1999))),
    ("musicals", (), False, plan("list", genres=all_("Musical"))),
    ("action, adventure and fantasy", (), False, plan("list", genres=all_("Action", "Adventure", "Fantasy"))),
    ("rom-coms", (), False, plan("list", genres=all_("Romance", "Comedy"))),
    # --- people: directors, actors, writers, and / or / not ---
    ("Hitchcock films from the 50s", (), False,
     plan("list", directors=all_("Alfred Hitchcock"), year=span(1950, 1959))),
    ("spielberg movies", (), False, plan("list", directors=all_("Steven Spielberg"))),
    ("movies by Stanley Kubrick", (), False, plan("list", directors=all_("Stanley Kubrick"))),
    ("Films directed by Christopher Nolan", (), False, plan("list", directors=all_("Christopher Nolan"))),
    ("Nolan films", (), False, plan("list", directors=all_("Christopher Nolan"))),
    ("films with Tom Hanks", (), False, plan("list", actors=all_("Tom Hanks"))),
    ("movies starring Morgan Freeman", (), False, plan("list", actors=all_("Morgan Freeman"))),
    ("Which films feature Harrison Ford?", (), False, plan("list", actors=all_("Harrison Ford"))),
    ("Hanks movies", (), False, plan("list", actors=all_("Tom Hanks"))),
    ("movies with De Niro and Pacino", (), False, plan("list", actors=all_("Robert De Niro", "Al Pacino"))),
    ("films starring Tom Cruise or Brad Pitt", (), False, plan("list", actors=any_("Tom Cruise", "Brad Pitt"))),
    ("Tarantino or Scorsese movies", (), False, plan("list", directors=any_("Quentin Tarantino", "Martin Scorsese"))),
    ("films by Spielberg and Kubrick", (), False,
     plan("list", directors=any_("Steven Spielberg", "Stanley Kubrick"))),
    ("movies co-directed by both Spielberg and Kubrick", (), False,
     plan("list", directors=all_("Steven Spielberg", "Stanley Kubrick"))),
    ("Martin Scorsese films starring Robert De Niro", (), False,
     plan("list", directors=all_("Martin Scorsese"), actors=all_("Robert De Niro"))),
    ("Spielberg films without Tom Hanks", (), False,
     plan("list", directors=all_("Steven Spielberg"), actors=none_("Tom Hanks"))),
    ("movies written by Quentin Tarantino", (), False, plan("list", writers=all_("Quentin Tarantino"))),
    ("films written by Jonathan Nolan", (), False, plan("list", writers=all_("Jonathan Nolan"))),
    ("screenplays by Billy Wilder", (), False, plan("list", writers=all_("Billy Wilder"))),
    ("Clint Eastwood westerns", (), False, plan("list", directors=all_("Clint Eastwood"), genres=all_("Western"))),
    ("movies Clint Eastwood directed", (), False, plan("list", directors=all_("Clint Eastwood"))),
    ("films Clint Eastwood starred in", (), False, plan("list", actors=all_("Clint Eastwood"))),
    ("Iñárritu films", (), False, plan("list", directors=all_("Alejandro González Iñárritu"))),
    ("Inarritu movies", (), False, plan("list", directors=all_("Alejandro González Iñárritu"))),
    ("pedro almodovar films", (), False, plan("list", directors=all_("Pedro Almodóvar"))),
    ("movies with Toshiro Mifune", (), False, plan("list", actors=all_("Toshirô Mifune"))),
    ("Samuel L. Jackson movies", (), False, plan("list", actors=all_("Samuel L. Jackson"))),
    ("Shyamalan movies", (), False, plan("list", directors=all_("M. Night Shyamalan"))),
    ("Greta Gerwig films", (), False,
     plan("list", either=(Filters(people=all_("Greta Gerwig")), Filters(title="Greta Gerwig")), confidence=0.6)),
    ("Indiana Jones movies", (), False,
     plan("list", either=(Filters(people=all_("Indiana Jones")), Filters(title="Indiana Jones")), confidence=0.6)),
    ("the longest Star Wars movie", (STAR_WARS,), False, plan("superlative", title="Star Wars", sort=LONGEST, limit=1)),
    ("Who directed the Jaws movie?", (JAWS,), False, plan("fact", fields=("director",), anchors=(11,))),
    ("how many Star Wars films are there", (STAR_WARS,), False, plan("count", title="Star Wars")),
    ("movies about a plane crash from the 90s", ((21, "Crash", 2004),), False,
     plan("search", year=span(1990, 1999), semantic="a plane crash")),
    ("movies directed by Greta Gerwig", (), False, plan("list", directors=all_("Greta Gerwig"), confidence=0.6)),
    ("Scott films", (), False, plan("list", directors=all_("Ridley Scott"))),  # 6 films to Tony Scott's 3
    ("Smith movies", (), False, plan("search", semantic="Smith movies", unapplied=("Smith",), confidence=0.3)),
    ("Best movies of the 90s", (), False, plan("superlative", year=span(1990, 1999), sort=BEST, limit=10)),
    # --- countries and languages ---
    ("French films", (), False,
     plan("list", either=(Filters(countries=any_("France")), Filters(languages=any_("French"))))),
    ("French or Italian films", (), False,
     plan("list", either=(Filters(countries=any_("France", "Italy")), Filters(languages=any_("French", "Italian"))))),
    ("movies from Japan", (), False, plan("list", countries=any_("Japan"))),
    ("films made in Italy", (), False, plan("list", countries=any_("Italy"))),
    ("British comedies", (), False, plan("list", countries=any_("UK"), genres=all_("Comedy"))),
    ("American westerns", (), False, plan("list", countries=any_("USA"), genres=all_("Western"))),
    ("movies in Japanese", (), False, plan("list", languages=any_("Japanese"))),
    ("films in Italian from the 60s", (), False, plan("list", languages=any_("Italian"), year=span(1960, 1969))),
    ("non-English films", (), False, plan("list", languages=none_("English"))),
    ("movies not in English", (), False, plan("list", languages=none_("English"))),
    ("German-language movies", (), False, plan("list", languages=any_("German"))),
    ("Korean movies", (), False,
     plan("list", either=(Filters(countries=any_("South Korea")), Filters(languages=any_("Korean"))))),
    ("Mexican films", (), False, plan("list", countries=any_("Mexico"))),
    ("movies from the UK", (), False, plan("list", countries=any_("UK"))),
    ("films from Hong Kong", (), False, plan("list", countries=any_("Hong Kong"))),
    ("films in Mandarin", (), False, plan("list", languages=any_("Mandarin"))),
    ("Turkish movies", (), False, plan("list", countries=any_("Turkey"))),
    # --- ratings ---
    ("movies rated above 4", (), False, plan("list", avg_rating=span(4, lo_open=True))),
    ("comedies with a rating of at least 3.5", (), False, plan("list", genres=all_("Comedy"), avg_rating=span(3.5))),
    ("films with at least 100 ratings", (), False, plan("list", num_ratings=span(100))),
    ("dramas rated 4 or higher with more than 50 votes", (), False,
     plan("list", genres=all_("Drama"), avg_rating=span(4), num_ratings=span(51))),
    ("movies rated below 2", (), False, plan("list", avg_rating=span(hi=2, hi_open=True))),
    ("4 stars or more", (), False, plan("list", avg_rating=span(4))),
    ("films rated over 8/10", (), False, plan("list", avg_rating=span(4, lo_open=True))),
    # --- sorting and limits ---
    ("Christopher Nolan movies sorted by year", (), False,
     plan("list", directors=all_("Christopher Nolan"), sort=OLDEST)),
    ("list Kubrick films chronologically", (), False, plan("list", directors=all_("Stanley Kubrick"), sort=OLDEST)),
    ("westerns ordered by length", (), False, plan("list", genres=all_("Western"), sort=SHORTEST)),
    ("comedies sorted by rating", (), False, plan("list", genres=all_("Comedy"), sort=BEST)),
    ("Hitchcock movies, newest first", (), False, plan("list", directors=all_("Alfred Hitchcock"), sort=NEWEST)),
    ("horror movies in alphabetical order", (), False, plan("list", genres=all_("Horror"), sort=Sort(key="title"))),
    ("90s films sorted by popularity", (), False, plan("list", year=span(1990, 1999), sort=POPULAR)),
    ("give me 5 comedies", (), False, plan("list", genres=all_("Comedy"), limit=5)),
    ("show me three Spielberg movies", (), False, plan("list", directors=all_("Steven Spielberg"), limit=3)),
    # --- titles in filters ---
    ("films with love in the title", (), False, plan("list", title="love")),
    ("movies whose title contains 'star'", (), False, plan("list", title="star")),
    ("the Star Wars movies", (STAR_WARS,), False, plan("list", title="Star Wars")),
    ("Is there a movie called Zorro?", (), False, plan("list", title="Zorro")),
    # --- follow-ups ---
    ("which of them are from the 90s?", (), True, plan("list", scope="previous", year=span(1990, 1999))),
    ("and which of these is the longest?", (), True, plan("superlative", scope="previous", sort=LONGEST, limit=1)),
    ("Only the ones with Tom Hanks", (), True, plan("list", scope="previous", actors=all_("Tom Hanks"))),
    ("just the dramas please", (), True, plan("list", scope="previous", genres=all_("Drama"))),
    ("sort those by year", (), True, plan("list", scope="previous", sort=OLDEST)),
    ("which of those are under 2 hours?", (), True, plan("list", scope="previous", duration_min=span(hi=119))),
    ("which of those is the longest?", (), False, plan("superlative", sort=LONGEST, limit=1)),
    # --- aggregates: one figure, figures per group, else guarded LLM SQL ---
    ("average length of Kubrick films", (), False,
     plan("aggregate", directors=all_("Stanley Kubrick"), measure="avg", fields=("duration_min",), confidence=0.6)),
    ("Which director has the most films?", (), False, plan("aggregate", group=Group(by="director", desc=True, top=1))),
    ("how many movies per decade", (), False, plan("aggregate", group=Group(by="decade"))),
    ("what is the most common genre", (), False, plan("aggregate", group=Group(by="genre", desc=True, top=1))),
    ("the median running time per decade", (), False, plan("aggregate", fields=("duration_min",), confidence=0.6)),
    # --- conditions understood but not applied ---
    ("Oscar-winning dramas", (), False,
     plan("list", genres=all_("Drama"), unapplied=("Oscar-winning",), confidence=0.6)),
    ("highest-grossing action movies", (), False,
     plan("list", genres=all_("Action"), unapplied=("highest-grossing",), confidence=0.6)),
    # --- chit-chat ---
    ("hello!", (), False, plan("chitchat")),
    ("Thanks!", (), True, plan("chitchat")),
    ("what can you do?", (), False, plan("chitchat")),
    ("Good morning", (), False, plan("chitchat")),
    ("thank you so much", (), False, plan("chitchat")),
    ("hey there", (), False, plan("chitchat")),
    ("what can you tell me?", (), False, plan("chitchat")),
    # --- more ordinary wording ---
    ("Can you show me all the Kubrick movies?", (), False, plan("list", directors=all_("Stanley Kubrick"))),
    ("I want to see westerns made before 1970", (), False, plan("list", genres=all_("Western"), year=span(hi=1969))),
    ("any flicks with Brad Pitt from the 2000s?", (), False,
     plan("list", actors=all_("Brad Pitt"), year=span(2000, 2009))),
    ("What films did Steven Spielberg make in the 1980s?", (), False,
     plan("list", directors=all_("Steven Spielberg"), year=span(1980, 1989))),
    ("List all Tarantino films sorted by rating", (), False, plan("list", directors=all_("Quentin Tarantino"), sort=BEST)),
    ("give me comedies from the nineties that are under 100 minutes", (), False,
     plan("list", genres=all_("Comedy"), year=span(1990, 1999), duration_min=span(hi=99))),
    ("What's the longest Tom Cruise movie?", (), False,
     plan("superlative", actors=all_("Tom Cruise"), sort=LONGEST, limit=1)),
    ("Which is the highest rated drama?", (), False, plan("superlative", genres=all_("Drama"), sort=BEST, limit=1)),
    ("Which comedy has the highest rating?", (), False, plan("superlative", genres=all_("Comedy"), sort=BEST, limit=1)),
    ("Which movies were made in Germany?", (), False, plan("list", countries=any_("Germany", "West Germany"))),
    ("What are some good Italian westerns?", (), False, plan("list", genres=all_("Western"), either=ITALIAN)),
    ("Who played in Pulp Fiction?", (PULP,), False, plan("fact", fields=("actors",), anchors=(12,))),
    ("Which actor plays in Jaws?", (JAWS,), False, plan("fact", fields=("actors",), anchors=(11,))),
    ("How old is Jaws?", (JAWS,), False, plan("fact", fields=("year",), anchors=(11,))),
    ("what's Jaws rated", (JAWS,), False, plan("fact", fields=("avg_rating",), anchors=(11,))),
    ("Is Jurassic Park longer than Jaws?", (JURASSIC, JAWS), False,
     plan("fact", fields=("duration_min",), anchors=(19, 11), compare=Compare(field="duration_min"))),
    ("was Jaws directed by Spielberg?", (JAWS,), False,
     plan("fact", directors=all_("Steven Spielberg"), fields=("director",), anchors=(11,))),
    ("Is Pulp Fiction in the catalog?", (PULP,), False, plan("fact", anchors=(12,))),
    ("who composed the music for Jaws", (JAWS,), False,
     plan("fact", anchors=(11,), unapplied=("composed", "music for"), confidence=0.6)),
    ("Tell me the director and year of Pulp Fiction", (PULP,), False,
     plan("fact", fields=("director", "year"), anchors=(12,))),
    ("recommend something similar to Pulp Fiction", (PULP,), False, plan("similar", anchors=(12,), exclude_ids=(12,))),
    ("I loved Jurassic Park. Any recommendations?", (JURASSIC,), False, plan("recommend", anchors=(19,))),
    ("What should I watch if I like sci-fi?", (), False, plan("recommend", genres=all_("Sci-Fi"))),
    ("a FedEx employee stranded on a deserted island after a plane crash", ((21, "Crash", 2004),), False,
     plan("search", semantic="a FedEx employee stranded on a deserted island after a plane crash")),
    ("movies set in New York", (), False, plan("search", semantic="set in New York")),
    ("films where people are trapped on an island", (), False, plan("search", semantic="people are trapped on an island")),
    ("movies starring both Tom Hanks and Meg Ryan", (), False, plan("list", actors=all_("Tom Hanks", "Meg Ryan"))),
    ("films with Al Pacino but not Robert De Niro", (), False,
     plan("list", actors=Names(all_of=("Al Pacino",), none_of=("Robert De Niro",)))),
    ("films directed by Scorsese with De Niro from the 70s or 80s", (), False,
     plan("list", directors=all_("Martin Scorsese"), actors=all_("Robert De Niro"), year=span(1970, 1989))),
    ("top 3 westerns by rating", (), False, plan("superlative", genres=all_("Western"), sort=BEST, limit=3)),
    ("The five most popular comedies", (), False, plan("superlative", genres=all_("Comedy"), sort=POPULAR, limit=5)),
    ("list the 20 oldest films", (), False, plan("superlative", sort=OLDEST, limit=20)),
    ("Which film has the most ratings?", (), False, plan("superlative", sort=POPULAR, limit=1)),
    ("movies with more than 200 ratings and an average above 4", (), False,
     plan("list", num_ratings=span(201), avg_rating=span(4, lo_open=True))),
    ("highly rated horror films", (), False, plan("list", genres=all_("Horror"), sort=BEST)),
    ("Which Spielberg movie came out first?", (), False,
     plan("superlative", directors=all_("Steven Spielberg"), sort=OLDEST, limit=1)),
    ("movies from '94", (), False, plan("list", year=span(1994, 1994))),
    ("movies that came out in 1999 or 2000", (), False, plan("list", year=span(1999, 2000))),
    ("dramas made in the USA in the 70s", (), False,
     plan("list", genres=all_("Drama"), countries=any_("USA"), year=span(1970, 1979))),
    ("Spanish-language movies", (), False, plan("list", languages=any_("Spanish"))),
    ("films spoken in French", (), False, plan("list", languages=any_("French"))),
    ("Chinese movies", (), False,
     plan("list", either=(Filters(countries=any_("China")), Filters(languages=any_("Mandarin", "Cantonese"))))),
    ("German war films", (), False,
     plan("list", genres=all_("War"), either=(Filters(countries=any_("Germany", "West Germany")), Filters(languages=any_("German"))))),
    ("British thrillers from the 2000s", (), False,
     plan("list", genres=all_("Thriller"), countries=any_("UK"), year=span(2000, 2009))),
    ("movies under an hour and a half", (), False, plan("list", duration_min=span(hi=89))),
    ("movies that are 2 hours or longer", (), False, plan("list", duration_min=span(120))),
    ("list movies between 2 and 3 hours long", (), False, plan("list", duration_min=span(120, 180))),
    ("westerns from the fifties and sixties", (), False, plan("list", genres=all_("Western"), year=span(1950, 1969))),
    ("horror or thriller movies from the 90s", (), False,
     plan("list", genres=any_("Horror", "Thriller"), year=span(1990, 1999))),
    ("comedies that aren't romantic", (), False, plan("list", genres=Names(all_of=("Comedy",), none_of=("Romance",)))),
    ("animated movies that are not for kids", (), False,
     plan("list", genres=Names(all_of=("Animation",), none_of=("Family",)))),
    ("number of horror films", (), False, plan("count", genres=all_("Horror"))),
    ("How many movies with Tom Hanks are longer than 2 hours?", (), False,
     plan("count", actors=all_("Tom Hanks"), duration_min=span(121))),
    ("Which movies did Christopher Nolan write?", (), False, plan("list", writers=all_("Christopher Nolan"))),
    ("What's the earliest film by Charlie Chaplin?", (), False,
     plan("superlative", directors=all_("Charles Chaplin"), sort=OLDEST, limit=1)),
    ("Chaplin movies", (), False, plan("list", directors=all_("Charles Chaplin"))),
    ("John Wayne movies", (), False,
     plan("list", either=(Filters(people=all_("John Wayne")), Filters(title="John Wayne")), confidence=0.6)),
    ("pre-1960 dramas", (), False, plan("list", genres=all_("Drama"), year=span(hi=1959))),
    ("post-2000 horror", (), False, plan("list", genres=all_("Horror"), year=span(2001))),
    ("films from the 1920s and 1930s", (), False, plan("list", year=span(1920, 1939))),
    ("movies that aren't in English", (), False, plan("list", languages=none_("English"))),
    ("films between 1h30 and 2h", (), False, plan("list", duration_min=span(90, 120))),
    ("short comedies under 95 min", (), False, plan("list", genres=all_("Comedy"), duration_min=span(hi=94))),
    ("the two newest Pixar films", (), False,
     plan("superlative", sort=NEWEST, limit=2, unapplied=("Pixar",), confidence=0.6)),
    ("second longest movie", (), False, plan("superlative", sort=LONGEST, limit=1, rank=2)),
    ("what's the 3rd oldest western?", (), False, plan("superlative", genres=all_("Western"), sort=OLDEST, limit=1, rank=3)),
    ("the second-best horror film", (), False, plan("superlative", genres=all_("Horror"), sort=BEST, limit=1, rank=2)),
    ("fourth most popular comedy", (), False, plan("superlative", genres=all_("Comedy"), sort=POPULAR, limit=1, rank=4)),
    ("which films did Spielberg and Tom Hanks make together", (), False,
     plan("list", directors=all_("Steven Spielberg"), actors=all_("Tom Hanks"))),
    ("non-American films", (), False, plan("list", countries=none_("USA"))),
    ("movies with Bruce Willis that are not action movies", (), False,
     plan("list", actors=all_("Bruce Willis"), genres=none_("Action"))),
    ("Every movie with Leonardo DiCaprio", (), False, plan("list", actors=all_("Leonardo DiCaprio"))),
    ("Which Meg Ryan movies are romantic comedies?", (), False,
     plan("list", actors=all_("Meg Ryan"), genres=all_("Romance", "Comedy"))),
    ("films with Humphrey Bogart in the 40s", (), False,
     plan("list", actors=all_("Humphrey Bogart"), year=span(1940, 1949))),
    ("movies starring Harrison Ford and directed by Steven Spielberg", (), False,
     plan("list", actors=all_("Harrison Ford"), directors=all_("Steven Spielberg"))),
    ("Pixar movies", (), False, plan("search", semantic="Pixar", confidence=0.6)),
    ("which films are longer than The Godfather?", (GODFATHER,), False,
     plan("aggregate", anchors=(15,), unapplied=("longer than The Godfather",), confidence=0.6)),
    ("What was the first film Spielberg directed?", (), False,
     plan("superlative", directors=all_("Steven Spielberg"), sort=OLDEST, limit=1)),
    ("Who directed the most movies in the catalog?", (), False, plan("aggregate", group=Group(by="director", desc=True, top=1))),
    ("a sad movie that will make me cry", (), False,
     plan("search", semantic="a sad movie that will make me cry")),
    ("Show me 5 random comedies", (), False, plan("list", genres=all_("Comedy"), limit=5)),
    ("I'm looking for a scary movie from the 80s", ((22, "Scary Movie", 2000),), False,
     plan("list", genres=all_("Horror"), year=span(1980, 1989))),
    ("Which films has Tom Hanks acted in?", (), False, plan("list", actors=all_("Tom Hanks"))),
    ("any Kubrick?", (), False, plan("list", directors=all_("Stanley Kubrick"))),
    ("Spielberg's latest movie", (), False, plan("superlative", directors=all_("Steven Spielberg"), sort=NEWEST, limit=1)),
    ("Show me Tarantino movies from newest to oldest", (), False,
     plan("list", directors=all_("Quentin Tarantino"), sort=NEWEST)),
    ("comedies sorted by release year, newest first", (), False, plan("list", genres=all_("Comedy"), sort=NEWEST)),
    ("films with fewer than 10 ratings", (), False, plan("list", num_ratings=span(hi=9))),
    ("How many films have a rating over 4?", (), False, plan("count", avg_rating=span(4, lo_open=True))),
    ("what is the average running time of westerns?", (), False,
     plan("aggregate", genres=all_("Western"), measure="avg", fields=("duration_min",), confidence=0.6)),
    ("films where Tom Hanks plays a lawyer", (), False, plan("search", actors=all_("Tom Hanks"), semantic="a lawyer")),
    ("Give me Japanese animated films", (), False,
     plan("list", genres=all_("Animation"), either=(Filters(countries=any_("Japan")), Filters(languages=any_("Japanese"))))),
    ("movies in English from Italy", (), False, plan("list", countries=any_("Italy"), languages=any_("English"))),
    ("What are three good thrillers?", (), False, plan("list", genres=all_("Thriller"), limit=3)),
    ("Show me every single Kubrick film you've got", (), False, plan("list", directors=all_("Stanley Kubrick"))),
    ("Any films from Iceland?", (), False, plan("list", countries=any_("Iceland"))),
    ("List all the Bollywood movies", (), False, plan("list", countries=any_("India"))),
    ("which pictures feature Audrey Hepburn", (), False, plan("list", actors=all_("Audrey Hepburn"), confidence=0.6)),
    ("Looking for crime dramas set in the 70s", (), False,
     plan("list", genres=all_("Crime", "Drama"), year=span(1970, 1979))),
    ("Which movies are exactly 90 minutes long?", (), False, plan("list", duration_min=span(90, 90))),
    ("show me the top 10 sci-fi movies of all time", (), False,
     plan("superlative", genres=all_("Sci-Fi"), sort=BEST, limit=10)),
    ("Any musicals from the 50s or 60s?", (), False, plan("list", genres=all_("Musical"), year=span(1950, 1969))),
    ("how many films in the catalog are in French?", (), False, plan("count", languages=any_("French"))),
    ("the shortest Disney movie", (), False,
     plan("superlative", sort=SHORTEST, limit=1, unapplied=("Disney",), confidence=0.6)),
    ("What is Inception about?", (), False, plan("fact", title="Inception", fields=("summary",), confidence=0.6)),
    ("How long is Avatar 2?", (), False, plan("fact", title="Avatar 2", fields=("duration_min",), confidence=0.6)),
    ("Who directed The Dark Knight Rises?", ((23, "The Dark Knight", 2008),), False,
     plan("fact", title="Dark Knight Rises", fields=("director",), confidence=0.6)),
    ("who directed the movie about the shark?", (), False,
     plan("fact", fields=("director",), semantic="the shark", confidence=0.6)),
    ("Thanks, that's helpful", (), True, plan("chitchat")),
    ("How does this work?", (), False, plan("chitchat")),
    ("hello, which Spielberg films do you have?", (), False, plan("list", directors=all_("Steven Spielberg"))),
    ("thanks! now show me westerns", (), True, plan("list", scope="previous", genres=all_("Western"))),
    ("uplifting movies about friendship", (), False, plan("search", semantic="uplifting friendship")),
    ("films about revenge from the 70s", (), False, plan("search", year=span(1970, 1979), semantic="revenge")),
    ("movies starring Zendaya", (), False, plan("list", actors=all_("Zendaya"), confidence=0.6)),
    ("How many films did Greta Gerwig direct?", (), False, plan("count", directors=all_("Greta Gerwig"), confidence=0.6)),
    ("Bruce Willis or Sylvester Stallone action movies", (), False,
     plan("list", genres=all_("Action"), actors=any_("Bruce Willis", "Sylvester Stallone"))),
    ("Clint Eastwood or Woody Allen films", (), False, plan("list", directors=any_("Clint Eastwood", "Woody Allen"))),
    ("Tom Cruise or Christopher Nolan movies", (), False, plan("list", people=any_("Tom Cruise", "Christopher Nolan"))),
    # --- follow-ups without a referring word ---
    ("how many are there?", (), True, plan("count", scope="previous")),
    ("and the oldest?", (), True, plan("superlative", scope="previous", sort=OLDEST, limit=1)),
    ("how long is it?", (), True, plan("fact", scope="previous", fields=("duration_min",))),
    ("which one has the best rating", (), True, plan("superlative", scope="previous", sort=BEST, limit=1)),
    ("sort by length", (), True, plan("list", scope="previous", sort=SHORTEST)),
    ("now just the ones with Harrison Ford", (), True, plan("list", scope="previous", actors=all_("Harrison Ford"))),
    ("only the dramas among them", (), True, plan("list", scope="previous", genres=all_("Drama"))),
    ("Tell me more about the first one", (), True, plan("fact", scope="previous", position=1)),
    # a pick by place in the previous list, however it is written
    ("and the third one?", (), True, plan("fact", scope="previous", position=3)),
    ("who directed the last film you listed?", (), True, plan("fact", scope="previous", position=-1, fields=("director",))),
    ("what about number 4", (), True, plan("fact", scope="previous", position=4)),
    ("how long is #2?", (), True, plan("fact", scope="previous", position=2, fields=("duration_min",))),
    ("what year was the fifth movie in the list", (), True, plan("fact", scope="previous", position=5, fields=("year",))),
    # "what about X" may narrow the last answer or replace it: the rules cannot tell, so they say so
    ("what about the comedies?", (), True, plan("list", genres=all_("Comedy"), confidence=0.6)),
    ("Which is the highest rated drama?", (), True, plan("superlative", genres=all_("Drama"), sort=BEST, limit=1)),
    ("Show me French dramas", (), True,
     plan("list", genres=all_("Drama"), either=(Filters(countries=any_("France")), Filters(languages=any_("French"))))),
    ("What was the first film Spielberg directed?", (), True,
     plan("superlative", directors=all_("Steven Spielberg"), sort=OLDEST, limit=1)),
    ("Which movie is the longest?", (), True, plan("superlative", sort=LONGEST, limit=1)),
]


@pytest.mark.parametrize(("question", "titles", "previous", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reads_the_exact_plan(question: str, titles: tuple, previous: bool, expected: QueryPlan) -> None:
    assert read_plan(question, VOCAB, titles=titles, has_previous=previous) == expected


def test_a_title_inside_a_persons_name_or_used_as_the_persons_name_yields_to_the_person() -> None:
    cruise = (21, "The Cruise", 1998)
    hitchcock = (22, "Hitchcock", 2012)
    assert read_plan("Tom Cruise movies", VOCAB, titles=(cruise,)) == plan("list", actors=all_("Tom Cruise"))
    assert read_plan("the best Hitchcock movie", VOCAB, titles=(hitchcock,)) == plan(
        "superlative", directors=all_("Alfred Hitchcock"), sort=BEST, limit=1)
    assert read_plan("films directed by Hitchcock", VOCAB, titles=(hitchcock,)) == plan(
        "list", directors=all_("Alfred Hitchcock"))
    # the film itself, named as a film
    assert read_plan("who directed Hitchcock?", VOCAB, titles=(hitchcock,)) == plan(
        "fact", anchors=(22,), fields=("director",))


def test_a_lower_case_preposition_after_a_film_noun_is_not_a_title_that_opens_with_it() -> None:
    about_time = (23, "About Time", 2013)
    assert read_plan("movies about time travel", VOCAB, titles=(about_time,)) == plan(
        "search", semantic="time travel")
    assert read_plan("Who directed About Time?", VOCAB, titles=(about_time,)) == plan(
        "fact", anchors=(23,), fields=("director",))


def test_where_the_story_goes_and_what_its_people_own_are_plot_words_not_filters() -> None:
    trip = "a boy left at home when his family flies to France for Christmas"
    assert read_plan(trip, VOCAB) == plan("search", semantic=trip)
    general = "a Roman general whose family was murdered"
    assert read_plan(general, VOCAB) == plan("search", semantic=general)
    assert read_plan("a man travels to Japan to find his brother", VOCAB) == plan(
        "search", semantic="a man travels to Japan to find his brother")


def test_a_described_story_is_a_confident_plot_search_and_leftover_words_are_not() -> None:
    assert read_plan("two brothers rob banks in Texas", VOCAB) == plan("search", semantic="two brothers rob banks in Texas")
    assert read_plan("Pixar stuff", VOCAB) == plan("search", semantic="Pixar", confidence=0.6)
    assert read_plan("a heist", VOCAB) == plan("search", semantic="a heist", confidence=0.6)
    # where a film was made, and the genre as a genre, still filter
    assert read_plan("family movies from Italy", VOCAB) == plan(
        "list", genres=all_("Family"), countries=any_("Italy"))
    assert read_plan("films made in Japan", VOCAB) == plan("list", countries=any_("Japan"))


def test_an_average_or_total_of_one_column_is_a_measure_the_plan_computes() -> None:
    kubrick = all_("Stanley Kubrick")
    assert read_plan("what's the average running time of Kubrick films?", VOCAB) == plan(
        "aggregate", directors=kubrick, measure="avg", fields=("duration_min",), confidence=0.6)
    assert read_plan("how long are Kubrick's movies on average", VOCAB) == plan(
        "aggregate", directors=kubrick, measure="avg", fields=("duration_min",), confidence=0.6)
    assert read_plan("average rating of Spielberg movies", VOCAB) == plan(
        "aggregate", directors=all_("Steven Spielberg"), measure="avg", fields=("avg_rating",), confidence=0.6)
    assert read_plan("total running time of the westerns", VOCAB) == plan(
        "aggregate", genres=all_("Western"), measure="sum", fields=("duration_min",), confidence=0.6)
    # groups and rankings of groups are a group plan's, not a measure's
    assert read_plan("average length per genre", VOCAB) == plan(
        "aggregate", group=Group(by="genre", measure="avg", field="duration_min"))
    assert read_plan("which director has the highest average rating", VOCAB) == plan(
        "aggregate", group=Group(by="director", measure="avg", field="avg_rating", desc=True, top=1, min_films=3))


def test_films_like_a_title_but_older_or_newer_are_bounded_by_its_year() -> None:
    matrix = (24, "The Matrix", 1999)
    assert read_plan("movies similar to The Matrix but older", VOCAB, titles=(matrix,)) == plan(
        "similar", anchors=(24,), exclude_ids=(24,), year=span(hi=1998))
    assert read_plan("films like The Matrix, only newer ones", VOCAB, titles=(matrix,)) == plan(
        "similar", anchors=(24,), exclude_ids=(24,), year=span(2000))


def test_a_surname_shared_by_people_with_no_credits_to_tell_them_apart_is_not_guessed() -> None:
    bare = Vocabulary(actors=frozenset({"Tom Hanks", "Colin Hanks"}), directors=frozenset({"Steven Spielberg"}),
                      writers=frozenset({"Anne Spielberg"}))
    assert read_plan("Hanks movies", bare) == plan(
        "search", semantic="Hanks movies", unapplied=("Hanks",), confidence=0.3)
    # the director tier settles "Spielberg" without any credits
    assert read_plan("Spielberg movies", bare) == plan("list", directors=all_("Steven Spielberg"))


def test_a_capitalised_word_that_is_also_a_surname_is_a_name_only_with_evidence() -> None:
    # "York" is Michael and Susannah York's, "Best" Ahmed Best's (one credit): words here
    assert read_plan("Best movies set in York", VOCAB) == plan(
        "superlative", sort=BEST, limit=10, semantic="set in York")
    assert read_plan("films starring Ahmed Best", VOCAB) == plan("list", actors=all_("Ahmed Best"))


def test_a_catalog_without_countries_or_languages_says_the_condition_was_not_applied() -> None:
    genres_only = Vocabulary(genres=frozenset({"Comedy", "Children"}))
    assert read_plan("comedies in French", genres_only) == plan(
        "list", genres=all_("Comedy"), unapplied=("in French",), confidence=0.6)
    assert read_plan("kids movies from Japan", genres_only) == plan(
        "list", genres=all_("Children"), unapplied=("Japan",), confidence=0.6)
    assert read_plan("movies starring Tom Hanks", genres_only) == plan("list", actors=all_("Tom Hanks"), confidence=0.6)


def test_a_pasted_plot_is_searched_as_written_even_with_years_and_names_in_it() -> None:
    text = ("In 1985, teenager Marty McFly is sent back to 1955 in a time machine built by his friend "
            "Doc Brown, and must make sure his parents fall in love or he will never be born.")
    assert read_plan(text, VOCAB) == plan("search", semantic=text, confidence=0.8)


def test_the_plan_is_the_same_whatever_the_case_and_trailing_punctuation() -> None:
    want = plan("list", directors=all_("Alfred Hitchcock"), year=span(1950, 1959))
    for q in ("Hitchcock films from the 50s", "HITCHCOCK FILMS FROM THE 50S?!", "hitchcock films from the 50s..."):
        assert read_plan(q, VOCAB) == want


def test_enough_distinct_phrasings() -> None:
    assert len({q for q, *_ in CASES}) >= 150


@pytest.mark.parametrize(
    ("phrase", "years"),
    [("the 90s", (1990, 1999)), ("'80s", (1980, 1989)), ("1970s", (1970, 1979)), ("00s", (2000, 2009)),
     ("early 80s", (1980, 1983)), ("mid-60s", (1963, 1966)), ("late 1990s", (1996, 1999)),
     ("the twenties", (1920, 1929)), ("95s", None)],
)
def test_decades(phrase: str, years: tuple[int, int] | None) -> None:
    assert decade_span(phrase) == years


@pytest.mark.parametrize(
    ("amount", "n"),
    [("90 minutes", 90), ("two hours", 120), ("an hour and a half", 90), ("1h30", 90), ("2.5 hours", 150),
     ("one and a half hours", 90), ("2 hours and 15 minutes", 135), ("90-minute", 90), ("3 hrs", 180)],
)
def test_running_times(amount: str, n: int) -> None:
    assert minutes(amount) == n


@pytest.mark.parametrize("question, filters, group", [
    ("which actor appears in the most films?", {}, Group(by="actor", desc=True, top=1)),
    ("Which year had the most releases?", {}, Group(by="year", desc=True, top=1)),
    ("who directed the most westerns?", {"genres": all_("Western")}, Group(by="director", desc=True, top=1)),
    ("who starred in the most Spielberg movies?", {"directors": all_("Steven Spielberg")}, Group(by="actor", desc=True, top=1)),
    ("what country produced the fewest films?", {}, Group(by="country", desc=False, top=1)),
    ("the least common genre", {}, Group(by="genre", desc=False, top=1)),
    ("the most prolific directors", {}, Group(by="director", desc=True, top=10)),
    ("directors with the most films", {}, Group(by="director", desc=True, top=10)),
    ("top 3 genres of the 90s", {"year": span(1990, 1999)}, Group(by="genre", desc=True, top=3)),
    ("how many Spielberg films per decade", {"directors": all_("Steven Spielberg")}, Group(by="decade")),
    ("how many films did each director make", {}, Group(by="director")),
    ("genre breakdown", {}, Group(by="genre")),
    ("average rating by decade", {}, Group(by="decade", measure="avg", field="avg_rating")),
    ("total running time per director", {}, Group(by="director", measure="sum", field="duration_min")),
    ("which genre has the longest films on average?", {}, Group(by="genre", measure="avg", field="duration_min", desc=True, top=1)),
    ("what's the highest rated genre?", {}, Group(by="genre", measure="avg", field="avg_rating", desc=True, top=1)),
    ("which decade has the worst rated movies", {}, Group(by="decade", measure="avg", field="avg_rating", desc=False, top=1)),
    ("which year did Kubrick release the most films?", {"directors": all_("Stanley Kubrick")}, Group(by="year", desc=True, top=1)),
    ("the best film of each decade", {}, Group(by="decade", pick=Sort(key="avg_rating", desc=True))),
    ("the oldest comedy of each decade", {"genres": all_("Comedy")}, Group(by="decade", pick=Sort(key="year"))),
    ("shortest movie in each genre from the 90s", {"year": span(1990, 1999)}, Group(by="genre", pick=Sort(key="duration_min"))),
    ("the most popular film for every director", {}, Group(by="director", pick=Sort(key="num_ratings", desc=True))),
])
def test_questions_about_groups_of_films_are_group_plans(question: str, filters: dict, group: Group) -> None:
    assert read_plan(question, VOCAB) == plan("aggregate", group=group, **filters)


@pytest.mark.parametrize("question", [
    "list comedies by year",  # a sort, not a group
    "which actor is in the longest film?",  # a fact about one film
    "the median running time per decade",  # a figure only drafted SQL computes
    "which Spielberg movies have the most ratings?",  # films ranked, not groups
])
def test_other_questions_are_not_group_plans(question: str) -> None:
    assert read_plan(question, VOCAB).group is None
