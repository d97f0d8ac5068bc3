"""Similarity and search over a real embedded Postgres: metrics against numpy, titles, modes,
filters, title finding, and the `similar`/`search` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import COURSE_MOVIES
from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.database import make_engine
from retrieval.schema import Movie, create_schema
from retrieval.search import PgCatalog, keyword_terms, score_for
from retrieval.types import METRICS, AmbiguousTitle, SearchFilters, UnknownTitle

pytestmark = pytest.mark.integration

# (title, year, genres, director, actors, summary) — our own one-line summaries.
FILMS = [
    ("King Kong", 2005, ["Action", "Adventure"], "Peter Jackson", ["Naomi Watts", "Jack Black", "Adrien Brody"],
     "A film crew sails to an uncharted island and captures a giant ape that they bring to New York."),
    ("King Kong", 1933, ["Adventure", "Horror"], "Merian C. Cooper", ["Fay Wray", "Robert Armstrong"],
     "Explorers find a colossal gorilla on a jungle island and exhibit it on Broadway."),
    ("Finding Nemo", 2003, ["Animation", "Family"], "Andrew Stanton", ["Albert Brooks", "Ellen DeGeneres"],
     "A timid clownfish crosses the ocean to rescue his son from a dentist's aquarium."),
    ("Up", 2009, ["Animation", "Adventure"], "Pete Docter", ["Ed Asner", "Jordan Nagai"],
     "An old widower ties thousands of balloons to his house and floats away to South America."),
    ("Cast Away", 2000, ["Drama", "Adventure"], "Robert Zemeckis", ["Tom Hanks", "Helen Hunt"],
     "A courier survives a plane crash and spends years alone on a deserted island."),
    ("Forrest Gump", 1994, ["Drama", "Romance"], "Robert Zemeckis", ["Tom Hanks", "Robin Wright"],
     "A kind man from Alabama drifts through decades of American history while loving his childhood friend."),
    ("The Matrix", 1999, ["Action", "Science Fiction"], "Lana Wachowski", ["Keanu Reeves", "Carrie-Anne Moss"],
     "A hacker learns that the world is a simulation run by machines and joins the rebellion."),
    ("Jaws", 1975, ["Thriller", "Horror"], "Steven Spielberg", ["Roy Scheider", "Robert Shaw"],
     "A great white shark terrorises a seaside resort town during the summer."),
    ("Alien", 1979, ["Horror", "Science Fiction"], "Ridley Scott", ["Sigourney Weaver", "Tom Skerritt"],
     "The crew of a space freighter is hunted by a deadly creature picked up on a distant moon."),
    ("Heat", 1995, ["Crime", "Thriller"], "Michael Mann", ["Al Pacino", "Robert De Niro"],
     "A detective obsessively pursues a disciplined crew of bank robbers across Los Angeles."),
    ("Toy Story", 1995, ["Animation", "Comedy"], "John Lasseter", ["Tom Hanks", "Tim Allen"],
     "A cowboy doll feels threatened when a flashy space ranger toy arrives in a boy's bedroom."),
    ("Toy Story 2", 1999, ["Animation", "Comedy"], "John Lasseter", ["Tom Hanks", "Tim Allen"],
     "A collector steals a cowboy doll and his toy friends set out across town to save him."),
    ("Top Gun", 1986, ["Action", "Drama"], "Tony Scott", ["Tom Cruise", "Kelly McGillis"],
     "A cocky navy pilot competes at an elite fighter weapons school."),
    ("2012", 2009, ["Action", "Science Fiction"], "Roland Emmerich", ["John Cusack", "Amanda Peet"],
     "A writer races to save his family as earthquakes and floods destroy the planet."),
    ("Gravity", 2013, ["Science Fiction", "Thriller"], "Alfonso Cuarón", ["Sandra Bullock", "George Clooney"],
     "Two astronauts are stranded in orbit after debris destroys their shuttle."),
    ("Léon", 1994, ["Crime", "Drama"], "Luc Besson", ["Jean Reno", "Natalie Portman"],
     "A lonely hitman in New York takes in a twelve-year-old girl whose family was murdered."),
]


def seed(engine, embedder) -> None:
    """Insert FILMS. The embedded text leaves the actors out on purpose, so only full-text search
    can find a film by an actor's name."""
    texts = [f"{t}. {s}" for t, _, _, _, _, s in FILMS]
    vectors = embedder.embed_documents(texts)
    with Session(engine) as session, session.begin():
        for (title, year, genres, director, actors, summary), vec in zip(FILMS, vectors, strict=True):
            session.add(Movie(
                title=title, year=year, genres=genres, director=director, actors=actors,
                summary=summary, people=" ; ".join([director, *actors]),
                source_key=f"test:{title}|{year}", source="test", embedding=vec,
            ))


@pytest.fixture(scope="module")
def db(new_database, embedder):
    url = new_database("search")
    engine = make_engine(url)
    create_schema(engine)
    seed(engine, embedder)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def catalog(db, embedder):
    return PgCatalog(db[1], embedder)


def ids_of(catalog, *titles_years):
    rows = {(t, y): i for i, t, y in catalog._titles().rows}
    return [rows[ty] for ty in titles_years]


def stored_vectors(engine):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, embedding FROM movies ORDER BY id")).all()
    return np.array([r.id for r in rows]), np.array([np.asarray(json.loads(r.embedding), dtype=np.float64) for r in rows])


def numpy_distances(metric, anchor, others):
    if metric == "cosine":
        return 1 - others @ anchor / (np.linalg.norm(others, axis=1) * np.linalg.norm(anchor))
    if metric == "l2":
        return np.linalg.norm(others - anchor, axis=1)
    if metric == "inner":
        return -(others @ anchor)
    if metric == "l1":
        return np.abs(others - anchor).sum(axis=1)
    a, b = anchor > 0, others > 0  # binary_quantize: 1 where the component is positive
    if metric == "hamming":
        return (a != b).sum(axis=1).astype(float)
    return 1 - (a & b).sum(axis=1) / (a | b).sum(axis=1)


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_matches_numpy_order_and_excludes_the_title(db, catalog, metric):
    ids, vectors = stored_vectors(db[1])
    (anchor_id,) = ids_of(catalog, ("Finding Nemo", 2003))
    mask = ids != anchor_id
    dist = numpy_distances(metric, vectors[~mask][0], vectors[mask])
    others = ids[mask]
    order = np.lexsort((others, dist))  # distance, then id (as the SQL breaks ties)
    hits = catalog.similar("finding nemo", metric=metric, k=len(FILMS))
    assert [h.id for h in hits] == others[order].tolist()
    assert anchor_id not in [h.id for h in hits]
    assert [h.distance for h in hits] == pytest.approx(dist[order].tolist(), abs=1e-5)
    assert [h.score for h in hits] == [score_for(metric, h.distance) for h in hits]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_title_is_case_insensitive_and_exact(catalog):
    (nemo,) = ids_of(catalog, ("Finding Nemo", 2003))
    assert catalog.resolve("  FINDING   nemo ") == (nemo, "Finding Nemo", 2003)


def test_two_king_kongs_are_ambiguous_until_a_year_is_given(catalog):
    kong_1933, kong_2005 = ids_of(catalog, ("King Kong", 1933), ("King Kong", 2005))
    with pytest.raises(AmbiguousTitle) as err:
        catalog.similar("king kong")
    assert err.value.candidates == [(kong_1933, "King Kong", 1933), (kong_2005, "King Kong", 2005)]
    assert "Pass --year" in str(err.value)
    assert catalog.resolve("King Kong", 2005) == (kong_2005, "King Kong", 2005)
    assert catalog.resolve("King Kong (1933)") == (kong_1933, "King Kong", 1933)
    hits = catalog.similar("King Kong", year=1933, k=3)
    assert kong_1933 not in [h.id for h in hits]
    assert hits[0].id == kong_2005  # the other giant ape is the nearest
    with pytest.raises(UnknownTitle) as err:
        catalog.resolve("King Kong", 1976)
    assert err.value.suggestions == ["King Kong (1933)", "King Kong (2005)"]


def test_unknown_title_suggests_the_closest(catalog):
    with pytest.raises(UnknownTitle) as err:
        catalog.similar("Findng Nemo")
    assert err.value.suggestions == ["Finding Nemo"]
    with pytest.raises(UnknownTitle) as err:
        catalog.similar("Toy")
    assert err.value.suggestions == ["Toy Story", "Toy Story 2"]
    assert "Did you mean: Toy Story, Toy Story 2?" in str(err.value)
    with pytest.raises(UnknownTitle) as err:
        catalog.similar("Zzyzx Road")
    assert err.value.suggestions == []


def test_keyword_terms_drop_filler_and_stop_words():
    assert keyword_terms("movies with Tom Hanks") == ["tom", "hanks"]
    assert keyword_terms("Show me some good films about the ocean and sharks") == ["ocean", "sharks"]
    assert keyword_terms("Schindler's List") == ["schindler's", "list"]
    assert keyword_terms("the movie with the") == []


def test_hybrid_finds_films_by_an_actor_where_dense_does_not(catalog):
    hanks = set(ids_of(catalog, ("Cast Away", 2000), ("Forrest Gump", 1994), ("Toy Story", 1995),
                       ("Toy Story 2", 1999)))
    dense = catalog.search("movies with Tom Hanks", mode="dense", k=4)
    hybrid = catalog.search("movies with Tom Hanks", k=4)
    assert {h.id for h in hybrid} == hanks
    assert not hanks <= {h.id for h in dense}
    missed = hanks - {h.id for h in dense}
    assert missed and missed <= {h.id for h in hybrid}
    # Fused score: 1/(60 + rank) per list; the distance is the cosine distance to the query.
    assert all(h.score > 1 / 61 for h in hybrid)
    assert all(h.distance is not None for h in hybrid)


def test_keyword_mode_ranks_every_word_matches_first(catalog):
    hits = catalog.search("Tom Hanks", mode="keyword", k=10)
    titles = [(h.title, h.year) for h in hits]
    # All four Hanks films (every word) before Top Gun and Alien (one word: "Tom").
    assert set(titles[:4]) == {("Cast Away", 2000), ("Forrest Gump", 1994), ("Toy Story", 1995), ("Toy Story 2", 1999)}
    assert set(titles[4:]) == {("Top Gun", 1986), ("Alien", 1979)}
    assert all(1 <= h.score < 2 for h in hits[:4]) and all(0 < h.score < 1 for h in hits[4:])
    assert all(h.distance is None for h in hits)
    # Summary words are stemmed: "sharks terrorising" finds "shark terrorises".
    assert [h.title for h in catalog.search("sharks terrorising", mode="keyword")] == ["Jaws"]
    assert catalog.search("xyzzy", mode="keyword") == []


def test_dense_search_takes_a_pasted_plot(catalog):
    plot = ("In this one a little orange fish is taken by a diver from the reef and his anxious "
            "father swims across the whole sea, meeting sharks and turtles, to bring him home.")
    hits = catalog.search(plot, k=3)
    assert hits[0].title == "Finding Nemo"
    dense = catalog.search(plot, mode="dense", k=3)
    assert dense[0].title == "Finding Nemo"
    assert dense[0].score == pytest.approx(1 - dense[0].distance)


def test_search_accepts_a_precomputed_vector(catalog, embedder):
    vec = embedder.embed_query("giant ape")
    by_text = catalog.search("giant ape", mode="dense", k=5)
    by_vec = catalog.search("ignored for dense", mode="dense", k=5, vector=vec)
    assert [h.id for h in by_vec] == [h.id for h in by_text]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_filters_apply_in_every_mode(catalog, mode):
    ids, years = {}, {}
    for i, t, y in catalog._titles().rows:
        ids[(t, y)], years[i] = i, y
    f = SearchFilters(year_min=1990, year_max=1999)
    hits = catalog.search("Tom Hanks toys", mode=mode, k=20, filters=f)
    assert hits and all(1990 <= years[h.id] <= 1999 for h in hits)
    if mode != "keyword":  # dense ranks every row that passes the filter
        assert {h.id for h in hits} == {i for i, y in years.items() if 1990 <= y <= 1999}
    f = SearchFilters(genres=("animation", "COMEDY"))
    hits = catalog.search("Tom Hanks", mode=mode, k=20, filters=f)
    assert sorted(h.title for h in hits) == ["Toy Story", "Toy Story 2"]
    f = SearchFilters(director="zemeckis", actors=("hanks", "helen"))
    assert [h.title for h in catalog.search("island", mode=mode, k=20, filters=f)] == ["Cast Away"]
    f = SearchFilters(ids=(ids[("Jaws", 1975)], ids[("Heat", 1995)]))
    assert sorted(h.title for h in catalog.search("detective shark", mode=mode, filters=f)) == ["Heat", "Jaws"]


def test_similar_applies_filters(catalog):
    hits = catalog.similar("Toy Story", k=20, filters=SearchFilters(genres=("Animation",)), metric="l2")
    assert sorted(h.title for h in hits) == ["Finding Nemo", "Toy Story 2", "Up"]


def test_get_keeps_the_order_given(catalog):
    jaws, heat = ids_of(catalog, ("Jaws", 1975), ("Heat", 1995))
    hits = catalog.get([heat, 999_999, jaws, heat])
    assert [(h.id, h.title, h.year) for h in hits] == [(heat, "Heat", 1995), (jaws, "Jaws", 1975)]
    assert hits[0].director == "Michael Mann" and hits[0].actors == ("Al Pacino", "Robert De Niro")
    assert catalog.get([]) == []


def test_find_titles(catalog):
    def found(text_):
        return [(t, y) for _, t, y in catalog.find_titles(text_)]

    assert found("movies like finding nemo please") == [("Finding Nemo", 2003)]
    assert found("I loved Toy Story 2 and Up") == [("Toy Story 2", 1999), ("Up", 2009)]
    assert found("pick me up after the toy story") == [("Toy Story", 1995)]
    assert found("something like heat or jaws") == []  # short titles only as written
    assert found("something like Heat or Jaws") == [("Heat", 1995), ("Jaws", 1975)]
    assert found("king kong (2005) vs the matrix") == [("King Kong", 2005), ("The Matrix", 1999)]
    assert found("KING KONG") == [("King Kong", 2005), ("King Kong", 1933)]
    assert found("films like leon") == []  # "Léon" is short: exact case (accents ignored)
    assert found("films like Leon") == [("Léon", 1994)]
    assert found("disaster movies from 2012") == []
    assert found('the film "2012"') == [("2012", 2009)]
    assert found("kingkong, uptown, matrixes") == []
    assert found("more like Matrix") == [("The Matrix", 1999)]  # article dropped: as written only
    assert found("more like matrix") == []


# --- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli(db, embedder, monkeypatch):
    """Run `movie-rag ...` against the seeded database; returns (exit code, stdout, stderr)."""
    from chatbot import cli as cli_module
    from chatbot import wiring

    monkeypatch.setenv("DATABASE_URL", db[0])
    monkeypatch.setattr(wiring, "embedder", lambda settings: embedder)

    def run(capsys, *argv):
        code = cli_module.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_similar_json(cli, catalog, capsys):
    code, out, err = cli(capsys, "similar", "King Kong", "--year", "1933", "-k", "2", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert [set(d) for d in data] == [{"id", "title", "year", "score", "distance"}] * 2
    assert [h.brief() for h in catalog.similar("King Kong", year=1933, k=2)] == data
    assert data[0]["title"] == "King Kong" and data[0]["year"] == 2005


def test_cli_similar_table_and_metric(cli, capsys):
    code, out, _ = cli(capsys, "similar", "toy story", "--metric", "hamming", "-k", "3")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert lines[0].split() == ["#", "title", "year", "score", "distance"]
    assert lines[1].split()[:4] == ["1", "Toy", "Story", "2"]


def test_cli_ambiguous_and_unknown_titles_exit_2(cli, capsys):
    code, out, err = cli(capsys, "similar", "King Kong")
    assert code == 2 and out == ""
    assert "2 movies are titled 'King Kong'" in err and "--year 1933" in err and "--year 2005" in err
    code, out, err = cli(capsys, "similar", "Findng Nemo", "--json")
    assert code == 2 and out == ""
    assert err.strip() == "movie-rag: No movie titled 'Findng Nemo' in the catalog. Did you mean: Finding Nemo?"


def test_cli_search_json_with_filters(cli, capsys):
    code, out, err = cli(capsys, "search", "movies with Tom Hanks", "--genre", "Animation",
                         "--year-min", "1995", "--year-max", "1998", "--json")
    assert code == 0 and err == ""
    assert [(d["title"], d["year"]) for d in json.loads(out)] == [("Toy Story", 1995)]
    code, out, _ = cli(capsys, "search", "Tom Hanks", "--mode", "keyword", "-k", "2", "--json")
    data = json.loads(out)
    assert code == 0 and len(data) == 2 and all(d["distance"] is None for d in data)


def test_cli_search_bad_input_exits_2(cli, capsys):
    code, _, err = cli(capsys, "search", "  ")
    assert code == 2 and "search text is empty" in err
    code, _, err = cli(capsys, "search", "ape", "--year-min", "2000", "--year-max", "1990")
    assert code == 2 and "--year-min 2000 is after --year-max 1990" in err


# --- the real course catalog (631 films, ingested once per session by conftest) ------------------


@pytest.fixture(scope="module")
def course(course_db, embedder):
    engine = make_engine(course_db)
    yield engine, PgCatalog(engine, embedder)
    engine.dispose()


@pytest.mark.parametrize("metric", METRICS)
def test_course_metrics_match_numpy(course, metric):
    engine, catalog = course
    ids, vectors = stored_vectors(engine)
    assert len(ids) == 631
    anchor_id, _, _ = catalog.resolve("The Matrix")
    mask = ids != anchor_id
    dist = numpy_distances(metric, vectors[~mask][0], vectors[mask])
    order = np.lexsort((ids[mask], dist))[:15]
    hits = catalog.similar("the matrix", metric=metric, k=15)
    assert [h.id for h in hits] == ids[mask][order].tolist()
    assert [h.distance for h in hits] == pytest.approx(dist[order].tolist(), abs=1e-5)


def test_course_king_kong(course):
    _, catalog = course
    with pytest.raises(AmbiguousTitle) as err:
        catalog.similar("King Kong")
    assert [(t, y) for _, t, y in err.value.candidates] == [("King Kong", 1933), ("King Kong", 2005)]
    kong_2005, _, _ = catalog.resolve("king kong", 2005)
    hits = catalog.similar("King Kong", year=2005, k=10)
    assert len(hits) == 10 and kong_2005 not in [h.id for h in hits]
    with pytest.raises(UnknownTitle) as err:
        catalog.similar("Kng Kong")
    assert err.value.suggestions[0] == "King Kong"


def test_course_hybrid_finds_tom_hanks_films(course):
    _, catalog = course
    hybrid = catalog.search("movies with Tom Hanks", k=10)
    dense = catalog.search("movies with Tom Hanks", mode="dense", k=10)
    with_hanks = [h for h in hybrid if "Tom Hanks" in h.actors]
    assert len(with_hanks) >= 8
    assert all("Tom Hanks" in h.actors for h in hybrid[:5])
    # names are not embedded (retrieval/embeddings.py): dense search alone does not find him
    assert sum("Tom Hanks" in h.actors for h in dense) < len(with_hanks)
    keyword = catalog.search("Tom Hanks", mode="keyword", k=16)
    assert all("Tom Hanks" in h.actors for h in keyword)  # all 16 of his films match every word


def test_course_find_titles(course):
    _, catalog = course
    assert [t for _, t, _ in catalog.find_titles("movies like finding nemo")] == ["Finding Nemo"]
    assert catalog.find_titles("can you pick me up a movie") == []
    assert [t for _, t, _ in catalog.find_titles("I loved Up and Toy Story 2")] == ["Toy Story 2", "Up"]


def test_course_hybrid_finds_a_supporting_actor_dense_misses(course):
    # Jennifer Coolidge is never among the first five actors, so only full-text search knows her.
    _, catalog = course
    hers = {"Robots", "Click", "American Pie"}
    hybrid = catalog.search("films with Jennifer Coolidge", k=5)
    dense = catalog.search("films with Jennifer Coolidge", mode="dense", k=10)
    assert hers <= {h.title for h in hybrid}
    assert not hers & {h.title for h in dense}


def test_movielens_titles_find_the_catalog_row(course_movielens_db, embedder):
    """The course calls Amélie "Le fabuleux destin d'Amélie Poulain"; MovieLens (joined by IMDb id)
    knows it as "Amelie": both names find the one row, which keeps the course's title."""
    course = {int(f["_id"]): (f["titre"], int(f["annee"])) for f in json.loads(COURSE_MOVIES.read_text())["films"]["film"]}
    engine = make_engine(course_movielens_db)
    catalog = PgCatalog(engine, embedder)
    with engine.connect() as conn:
        by_imdb = {r.imdb_id: (r.id, r.title, r.year) for r in conn.execute(text(
            "SELECT id, title, year, imdb_id FROM movies WHERE imdb_id IN (211915, 114369, 114746, 110413, 113247)"))}
    amelie, se7en, monkeys, leon, hate = (by_imdb[i] for i in (211915, 114369, 114746, 110413, 113247))
    assert amelie[1:] == course[211915] and se7en[1:] == course[114369] and leon[1:] == course[110413]
    assert hate[1:] == ("Hate", 1995)  # MovieLens's alone: "Hate (Haine, La) (1995)"
    for typed, row in [("Amelie", amelie), ("Amélie", amelie), ("amelie", amelie), ("Seven", se7en), ("Se7en", se7en),
                       ("12 Monkeys", monkeys), ("Léon: The Professional", leon), ("La Haine", hate)]:
        assert catalog.resolve(typed) == row, typed
    assert catalog.find_titles("movies like Amelie") == [amelie]
    assert catalog.find_titles("something like Amélie but in English") == [amelie]
    assert catalog.find_titles("films like la haine or 12 monkeys") == [hate, monkeys]  # in the order named
    # a one-word alternative title only as written, like "Godfather": "amelie" or "seven" in prose is no film
    assert catalog.find_titles("movies like amelie") == []
    assert catalog.find_titles("the seven best thrillers") == []
    assert catalog.similar("Amélie", k=3)[0].id != amelie[0]
    engine.dispose()
