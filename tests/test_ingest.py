"""Ingest against the real embedded Postgres: every format, idempotence, the MovieLens join, the
bad-input cases (database unchanged), and the `movie-rag ingest` CLI."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import COURSE_MOVIES, MOVIELENS_DIR
from sqlalchemy import text

from retrieval.database import make_engine
from retrieval.embeddings import embedding_text
from retrieval.ingest import (
    IngestError,
    ingest_demo,
    ingest_movielens,
    ingest_movies,
    parse_movielens_akas,
    parse_movielens_title,
)
from retrieval.schema import create_schema
from retrieval.search import PgCatalog

pytestmark = pytest.mark.integration

COURSE_COUNT = 631
DEMO_COUNT = 53


class CountingEmbedder:
    """The real model, recording every text it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.texts: list[str] = []

    def embed_documents(self, texts):
        self.texts.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


class FakeEmbedder:
    """Deterministic vectors without the model, for tests about validation and SQL."""

    def __init__(self):
        self.texts: list[str] = []

    def embed_documents(self, texts):
        self.texts.extend(texts)
        return [[(len(t) % 7 + 1) / 10.0] + [0.0] * 383 for t in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def _db_name(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


@pytest.fixture
def fresh(new_database):
    """An engine on a new database with the schema; disposed after the test."""
    engines = []

    def make(prefix: str = "ing"):
        engine = make_engine(new_database(prefix))
        create_schema(engine)
        engines.append(engine)
        return engine

    yield make
    for e in engines:
        e.dispose()


def snapshot(engine) -> tuple:
    """Row count and md5 of every row (movies and ratings), in a stable order."""
    with engine.connect() as conn:
        movies = conn.execute(text(
            "SELECT count(*), md5(coalesce(string_agg(m::text, '|' ORDER BY m.id), '')) FROM movies m"
        )).one()
        ratings = conn.execute(text(
            "SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r.user_id, r.movie_id), '')) "
            "FROM ratings r"
        )).one()
    return tuple(movies), tuple(ratings)


def rows(engine, where: str = "true", **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, source_key, source, imdb_id, movielens_id, tmdb_id, title, year, country, language, "
            "duration_min, summary, genres, director, writers, actors, poster_url, avg_rating, num_ratings, "
            f"people, embedding_text, embedding IS NOT NULL AS has_embedding FROM movies WHERE {where} "
            "ORDER BY title, year"
        ), params)]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# --- the course catalog ------------------------------------------------------------------------

needs_course = pytest.mark.skipif(not COURSE_MOVIES.exists(), reason=f"{COURSE_MOVIES} is absent")


@pytest.fixture(scope="module")
def course_db(new_database, pg_server, embedder):
    """A database with the course catalog ingested once; tests get copies (CREATE DATABASE ... TEMPLATE)."""
    if not COURSE_MOVIES.exists():
        pytest.skip(f"{COURSE_MOVIES} is absent")
    url = new_database("course")
    engine = make_engine(url)
    create_schema(engine)
    counter = CountingEmbedder(embedder)
    report = ingest_movies(engine, COURSE_MOVIES, counter)
    engine.dispose()
    return url, report, len(counter.texts)


@pytest.fixture
def course_copy(course_db, pg_server):
    template = _db_name(course_db[0])
    name = f"copy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine = make_engine(course_db[0].replace(f"/{template}?", f"/{name}?", 1))
    yield engine
    engine.dispose()


@needs_course
def test_course_catalog_loads_every_film_with_its_fields(course_db, course_copy):
    _, report, texts_embedded = course_db
    assert (report.format, report.inserted, report.updated, report.unchanged) == ("course", COURSE_COUNT, 0, 0)
    assert report.embedded == COURSE_COUNT == texts_embedded == report.total_movies

    [george] = rows(course_copy, "title = 'George of the Jungle'")
    assert george | {"id": 0, "poster_url": None, "embedding_text": None} == {
        "id": 0, "source_key": "imdb:119190", "source": "course", "imdb_id": 119190, "movielens_id": None,
        "tmdb_id": None, "title": "George of the Jungle", "year": 1997, "country": "USA",
        "language": "English", "duration_min": 92,
        "summary": "George grows up in the jungle raised by apes. Based on the Cartoon series.",
        "genres": ["Action", "Adventure", "Comedy", "Family", "Romance"], "director": "Sam Weisman",
        "writers": ["Jay Ward", "Dana Olsen"],
        "actors": ["Brendan Fraser", "Leslie Mann", "Thomas Haden Church", "John Cleese", "Holland Taylor",
                   "Michael Chinyamurindi", "Abdoulaye NGom"],
        "poster_url": None, "avg_rating": None, "num_ratings": None,
        "people": "Sam Weisman ; Jay Ward ; Dana Olsen ; Brendan Fraser ; Leslie Mann ; Thomas Haden Church ; "
                  "John Cleese ; Holland Taylor ; Michael Chinyamurindi ; Abdoulaye NGom",
        "embedding_text": None, "has_embedding": True,
    }
    assert george["poster_url"].startswith("https://m.media-amazon.com/images/M/MV5BNTdiM2VjYjYt")
    assert george["embedding_text"] == embedding_text(george)

    kongs = rows(course_copy, "title = 'King Kong'")
    assert sorted((k["year"], k["director"], k["source_key"]) for k in kongs) == [
        (1933, None, "imdb:24216"), (2005, "Peter Jackson", "imdb:360717"),
    ]
    [yojimbo] = rows(course_copy, "title = 'Yojimbo'")  # `role` is one object, not a list
    assert yojimbo["actors"] == ["Toshirô Mifune"]
    [hangover] = rows(course_copy, "title = 'The Hangover'")  # `pays` is a list, `genre` a string
    assert (hangover["country"], hangover["genres"]) == ("USA, Germany", ["Comedy"])
    [fahrenheit] = rows(course_copy, "title = 'Fahrenheit 9/11'")  # no `role` at all
    assert fahrenheit["actors"] == []
    with course_copy.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM movies WHERE embedding IS NULL")).scalar_one() == 0


@needs_course
def test_course_reingest_changes_and_embeds_nothing(course_copy, embedder):
    before = snapshot(course_copy)
    counter = CountingEmbedder(embedder)
    report = ingest_movies(course_copy, COURSE_MOVIES, counter)
    assert (report.inserted, report.updated, report.unchanged, report.embedded) == (0, 0, COURSE_COUNT, 0)
    assert report.total_movies == COURSE_COUNT
    assert counter.texts == []
    assert snapshot(course_copy) == before


@needs_course
def test_editing_one_summary_reembeds_exactly_that_row(course_copy, embedder, tmp_path):
    doc = json.loads(COURSE_MOVIES.read_text(encoding="utf-8"))
    film = next(f for f in doc["films"]["film"] if f["titre"] == "Finding Nemo")
    film["resume"] = "A clownfish father searches the whole ocean for his lost son."
    edited = write_json(tmp_path / "movies.json", doc)
    with course_copy.connect() as conn:
        others_before = conn.execute(text(
            "SELECT md5(string_agg(m::text, '|' ORDER BY id)) FROM movies m WHERE title <> 'Finding Nemo'"
        )).scalar_one()

    counter = CountingEmbedder(embedder)
    report = ingest_movies(course_copy, edited, counter)

    assert (report.inserted, report.updated, report.unchanged, report.embedded) == (0, 1, COURSE_COUNT - 1, 1)
    [nemo] = rows(course_copy, "title = 'Finding Nemo'")
    assert nemo["summary"] == film["resume"]
    assert counter.texts == [nemo["embedding_text"]]
    assert film["resume"].rstrip(".") in nemo["embedding_text"]
    with course_copy.connect() as conn:
        others_after = conn.execute(text(
            "SELECT md5(string_agg(m::text, '|' ORDER BY id)) FROM movies m WHERE title <> 'Finding Nemo'"
        )).scalar_one()
        # the stored vector is the model's vector of the stored text
        cos = conn.execute(text(
            "SELECT 1 - (embedding <=> CAST(:q AS vector)) FROM movies WHERE title = 'Finding Nemo'"
        ), {"q": str(embedder.embed_query(nemo["embedding_text"]))}).scalar_one()
    assert others_after == others_before
    assert cos > 0.9999


# --- plot list, native, demo -------------------------------------------------------------------


def test_plot_list_format(fresh, tmp_path):
    engine = fresh()
    path = write_json(tmp_path / "plots.json", [
        {"title": "The Matrix", "plot": "A hacker learns the world is a simulation.", "year": 1999},
        {"title": "Alien", "plot": "A space crew meets a deadly creature.", "year": "1979"},
        {"title": "Untitled Project", "plot": "Nobody knows yet."},
    ])
    fake = FakeEmbedder()
    report = ingest_movies(engine, path, fake)
    assert (report.format, report.inserted, report.embedded, report.total_movies) == ("plots", 3, 3, 3)
    got = rows(engine)
    assert [(r["title"], r["year"], r["source_key"], r["source"], r["summary"], r["genres"], r["imdb_id"]) for r in got] == [
        ("Alien", 1979, "title:alien|1979", "plots", "A space crew meets a deadly creature.", [], None),
        ("The Matrix", 1999, "title:the matrix|1999", "plots", "A hacker learns the world is a simulation.", [], None),
        ("Untitled Project", None, "title:untitled project|", "plots", "Nobody knows yet.", [], None),
    ]
    assert sorted(fake.texts) == sorted(r["embedding_text"] for r in got)
    assert got[0]["embedding_text"] == "Alien. A space crew meets a deadly creature."


def test_native_format_sets_every_column_and_absent_keys_keep_values(fresh, tmp_path):
    engine = fresh()
    film = {
        "title": "Heat", "year": 1995, "summary": "Cops and robbers in Los Angeles.", "genres": ["Crime", "Drama"],
        "director": "Michael Mann", "writers": ["Michael Mann"], "actors": ["Al Pacino", "Robert De Niro"],
        "duration_min": 170, "country": "USA", "language": "English", "poster_url": "https://example.org/heat.jpg",
        "imdb_id": "tt0113277",
    }
    report = ingest_movies(engine, write_json(tmp_path / "a.json", [film]), FakeEmbedder())
    assert (report.format, report.inserted) == ("native", 1)
    [row] = rows(engine)
    assert {k: row[k] for k in film} == film | {"imdb_id": 113277}
    assert (row["source_key"], row["source"], row["people"]) == (
        "imdb:113277", "native", "Michael Mann ; Al Pacino ; Robert De Niro",
    )
    # a later file that gives only the summary changes only the summary (and the embedded text)
    fake = FakeEmbedder()
    report = ingest_movies(engine, write_json(tmp_path / "b.json", [
        {"title": "Heat", "year": 1995, "imdb_id": 113277, "summary": "A heist crew and the detective on their trail."}
    ]), fake)
    assert (report.inserted, report.updated, report.embedded) == (0, 1, 1)
    [after] = rows(engine)
    assert after["summary"] == "A heist crew and the detective on their trail."
    assert (after["director"], after["actors"], after["duration_min"]) == ("Michael Mann", ["Al Pacino", "Robert De Niro"], 170)
    assert fake.texts == [after["embedding_text"]]


def test_demo_catalog_loads_and_reingests_idempotently(fresh, embedder):
    engine = fresh()
    counter = CountingEmbedder(embedder)
    report = ingest_demo(engine, counter)
    assert (report.format, report.file, report.inserted, report.embedded, report.total_movies) == (
        "demo", "demo_movies.json", DEMO_COUNT, DEMO_COUNT, DEMO_COUNT,
    )
    titles = {(r["title"], r["year"]) for r in rows(engine)}
    assert {("Finding Nemo", 2003), ("King Kong", 1933), ("King Kong", 2005), ("Ocean's Eleven", 2001),
            ("Ocean's Eleven", 1960), ("Saving Private Ryan", 1998), ("Jurassic Park", 1993)} <= titles
    with engine.connect() as conn:
        hanks = conn.execute(text(
            "SELECT count(*) FROM movies WHERE 'Tom Hanks' = ANY(actors)"
        )).scalar_one()
        sources = conn.execute(text("SELECT array_agg(DISTINCT source) FROM movies")).scalar_one()
    assert hanks >= 8 and sources == ["demo"]
    before = snapshot(engine)
    again = ingest_demo(engine, counter)
    assert (again.inserted, again.updated, again.unchanged, again.embedded) == (0, 0, DEMO_COUNT, 0)
    assert len(counter.texts) == DEMO_COUNT
    assert snapshot(engine) == before


# --- bad input leaves the database exactly as it was --------------------------------------------

SEED = [
    {"title": "Heat", "year": 1995, "summary": "Cops and robbers.", "imdb_id": 113277},
    {"title": "Casino", "year": 1995, "summary": "Las Vegas and the mob.", "imdb_id": 112641},
]

BAD_FILES = {
    "bad-json": (b'[{"title": "Heat", "year": 1995},\n {"title": "Jaws" "year": 1975}]',
                 ["line 2 column", "is not valid JSON"]),
    "not-utf8": (b'[{"title": "Am\xe9lie", "year": 2001}]', ["line 1", "is not valid UTF-8", "save the file as UTF-8"]),
    "missing-title": ([{"title": "Jaws", "year": 1975}, {"year": 1999, "summary": "No name."}],
                      ["record 2", "has no title"]),
    "empty-title": ([{"title": "Jaws", "year": 1975}, {"title": "   ", "year": 1999}], ["record 2", "title", "is empty"]),
    "course-missing-titre": ({"films": {"film": [{"titre": "Jaws", "annee": "1975", "_id": "73195"},
                                                 {"annee": "1999", "resume": "x", "_id": "1"}]}},
                             ["record 2", "has no title (key 'titre')"]),
    "duplicate-ids": ({"films": {"film": [{"titre": "Jaws", "annee": "1975", "_id": "73195"},
                                          {"titre": "Jaws 2", "annee": "1978", "_id": "0073195"}]}},
                      ["record 1 ('Jaws') and record 2 ('Jaws 2') have the same IMDb id 73195"]),
    "duplicate-title-year": ([{"title": "Heat", "year": 1995, "summary": "a"}, {"title": "Jaws", "year": 1975},
                              {"title": "heat", "year": 1995, "summary": "b"}],
                             ["record 1 ('Heat') and record 3 ('heat') have the same title and year"]),
    "bad-year": ([{"title": "Jaws", "year": 1975}, {"title": "Alien", "year": "nineteen"}],
                 ["record 2 ('Alien')", "year 'nineteen' is not a whole number"]),
    "bad-duree": ({"films": {"film": [{"titre": "Jaws", "annee": "1975", "duree": "2h04", "_id": "73195"}]}},
                  ["record 1 ('Jaws')", "duree '2h04' is not a whole number"]),
    "unknown-shape": ({"catalog": []}, ["has an object with keys 'catalog' at the top", "the course movies.json"]),
    "unknown-keys": ([{"title": "Jaws", "name": "x"}], ["record 1 ('Jaws')", "'name'", "match no accepted format"]),
    "not-objects": (["Jaws", "Alien"], ["record 1", "is a JSON str, not an object"]),
    "empty-list": ([], ["contains no movies"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_movies_file_raises_and_leaves_database_unchanged(case, fresh, tmp_path):
    engine = fresh()
    ingest_movies(engine, write_json(tmp_path / "seed.json", SEED), FakeEmbedder())
    before = snapshot(engine)
    content, fragments = BAD_FILES[case]
    path = tmp_path / f"{case}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write_json(path, content)
    fake = FakeEmbedder()
    with pytest.raises(IngestError) as err:
        ingest_movies(engine, path, fake)
    message = str(err.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message
    assert message.endswith("The catalog was left unchanged.")
    assert fake.texts == []  # validation comes before embedding
    assert snapshot(engine) == before


def test_missing_file_is_an_ingest_error(fresh, tmp_path):
    with pytest.raises(IngestError, match="the file does not exist"):
        ingest_movies(fresh(), tmp_path / "nope.json", FakeEmbedder())


def test_conflict_inside_the_transaction_rolls_back_the_whole_file(fresh, tmp_path):
    engine = fresh()
    ingest_movies(engine, write_json(tmp_path / "seed.json", SEED), FakeEmbedder())
    with engine.begin() as conn:  # a row that holds IMDb id 73195 under another key
        conn.execute(text("INSERT INTO movies (source_key, imdb_id, title, source) VALUES ('manual:1', 73195, 'Jaws', 'manual')"))
    before = snapshot(engine)
    path = write_json(tmp_path / "f.json", [
        {"title": "Alien", "year": 1979, "imdb_id": 78748},
        {"title": "Heat", "year": 1995, "summary": "Changed.", "imdb_id": 113277},
        {"title": "Jaws", "year": 1975, "imdb_id": 73195},
    ])
    with pytest.raises(IngestError, match="conflicts with rows already in the catalog"):
        ingest_movies(engine, path, FakeEmbedder())
    assert snapshot(engine) == before


# --- MovieLens ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("Matrix, The (1999)", ("The Matrix", 1999)),
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", ("The City of Lost Children", 1995)),
    ("Seven (a.k.a. Se7en) (1995)", ("Seven", 1995)),
    ("Misérables, Les (1995)", ("Les Misérables", 1995)),
    ("Aventura, L' (1960)", ("L'Aventura", 1960)),
    ("Babylon 5", ("Babylon 5", None)),
    ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", 2006)),
    ("Star Wars: Episode IV - A New Hope (1977)", ("Star Wars: Episode IV - A New Hope", 1977)),
    ("Monsters, Inc. (2001)", ("Monsters, Inc.", 2001)),
])
def test_parse_movielens_title(raw, expected):
    assert parse_movielens_title(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", ["Le Fabuleux destin d'Amélie Poulain"]),
    ("Seven (a.k.a. Se7en) (1995)", ["Se7en"]),
    ("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)", ["The Professional", "Léon"]),
    ("Boot, Das (Boat, The) (1981)", ["The Boat"]),
    ("Matrix, The (1999)", []),
    ("(500) Days of Summer (2009)", []),  # a title that opens with parentheses keeps them
    ("Frontière(s) (2007)", []),
    ("Evangelion: 1.0 You Are (Not) Alone (Evangerion shin gekijôban: Jo) (2007)", ["Evangerion shin gekijôban: Jo"]),
])
def test_parse_movielens_akas(raw, expected):
    assert parse_movielens_akas(raw) == expected


def write_movielens(folder: Path, *, movies=None, links=None, ratings=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(movies or (
        "movieId,title,genres\n"
        '1,"Matrix, The (1999)",Action|Sci-Fi|Thriller\n'
        '2,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama|Fantasy\n'
        "3,Babylon 5,(no genres listed)\n"
    ), encoding="utf-8")
    (folder / "links.csv").write_text(links or (
        "movieId,imdbId,tmdbId\n1,0133093,603\n2,0112682,902\n3,0105946,\n"
    ), encoding="utf-8")
    (folder / "ratings.csv").write_text(ratings or (
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,1,4.5,964982704\n3,1,3.0,964982705\n"
        "1,2,3.5,964982706\n99,999,5.0,964982707\n"
    ), encoding="utf-8")
    return folder


def test_movielens_joins_by_imdb_id_and_sets_ratings(fresh, tmp_path):
    engine = fresh()
    ingest_movies(engine, write_json(tmp_path / "seed.json", [
        {"title": "The Matrix", "year": 1999, "summary": "A hacker wakes up.", "director": "Lana Wachowski",
         "imdb_id": 133093},
        *SEED,
    ]), FakeEmbedder())
    folder = write_movielens(tmp_path / "ml")
    fake = FakeEmbedder()
    report = ingest_movielens(engine, folder, fake)
    assert (report.format, report.inserted, report.updated, report.unchanged, report.embedded) == ("movielens", 2, 1, 0, 2)
    assert (report.ratings, report.ratings_skipped, report.total_movies) == (4, 1, 5)
    assert report.warnings == ["skipped 1 rating(s) of films not in movies.csv: ratings.csv line 6 (movieId 999)"]

    got = {r["title"]: r for r in rows(engine)}
    assert sorted(got) == ["Babylon 5", "Casino", "Heat", "The City of Lost Children", "The Matrix"]
    matrix = got["The Matrix"]  # one row: the catalog's film, with the MovieLens ids and ratings
    assert (matrix["source"], matrix["summary"], matrix["director"], matrix["genres"]) == (
        "native", "A hacker wakes up.", "Lana Wachowski", [],
    )
    assert (matrix["movielens_id"], matrix["tmdb_id"], matrix["num_ratings"]) == (1, 603, 3)
    assert matrix["avg_rating"] == pytest.approx((4.0 + 4.5 + 3.0) / 3, abs=1e-12)
    city = got["The City of Lost Children"]
    assert (city["year"], city["genres"], city["imdb_id"], city["source_key"], city["source"]) == (
        1995, ["Adventure", "Drama", "Fantasy"], 112682, "imdb:112682", "movielens",
    )
    assert (city["avg_rating"], city["num_ratings"]) == (3.5, 1)
    babylon = got["Babylon 5"]
    assert (babylon["year"], babylon["genres"], babylon["tmdb_id"], babylon["avg_rating"], babylon["num_ratings"]) == (
        None, [], None, None, 0,
    )
    assert (got["Heat"]["num_ratings"], got["Heat"]["movielens_id"]) == (None, None)
    assert sorted(fake.texts) == sorted([city["embedding_text"], babylon["embedding_text"]])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ratings")).scalar_one() == 4

    # the same folder again changes nothing
    before = snapshot(engine)
    again = ingest_movielens(engine, folder, fake)
    assert (again.inserted, again.updated, again.unchanged, again.embedded) == (0, 0, 3, 0)
    assert snapshot(engine) == before

    # a changed and a removed rating: the stats follow, nothing is embedded
    write_movielens(folder, ratings="userId,movieId,rating,timestamp\n1,1,2.0,964982703\n2,1,4.5,964982704\n"
                                    "1,2,3.5,964982706\n")
    third = ingest_movielens(engine, folder, fake)
    assert (third.inserted, third.updated, third.unchanged, third.embedded, third.ratings) == (0, 1, 2, 0, 3)
    [matrix] = rows(engine, "title = 'The Matrix'")
    assert (matrix["avg_rating"], matrix["num_ratings"]) == (3.25, 2)


def test_course_file_after_movielens_keeps_the_join(fresh, tmp_path):
    """Order does not matter: a MovieLens-made row is taken over by the richer JSON record."""
    engine = fresh()
    folder = write_movielens(tmp_path / "ml")
    ingest_movielens(engine, folder, FakeEmbedder())
    report = ingest_movies(engine, write_json(tmp_path / "m.json", {"films": {"film": [
        {"titre": "The City of Lost Children", "annee": "1995", "resume": "Dreams are stolen.", "_id": "112682",
         "realisateur": {"_id": "1", "__text": "Jean-Pierre Jeunet"}},
    ]}}), FakeEmbedder())
    assert (report.inserted, report.updated) == (0, 1)
    [city] = rows(engine, "imdb_id = 112682")
    assert (city["source"], city["director"], city["movielens_id"], city["num_ratings"]) == ("course", "Jean-Pierre Jeunet", 2, 1)
    again = ingest_movielens(engine, folder, FakeEmbedder())
    assert (again.inserted, again.updated, again.total_movies) == (0, 0, 3)


def test_movielens_titles_become_alternative_titles(fresh, tmp_path):
    """MovieLens's title and its parentheses are kept as alternative titles; a row another source
    made keeps its title, and a re-ingest writes nothing."""
    engine = fresh()
    course = write_json(tmp_path / "m.json", {"films": {"film": [
        {"titre": "Le fabuleux destin d'Amélie Poulain", "annee": "2001", "_id": "211915"},
    ]}})
    ingest_movies(engine, course, FakeEmbedder())
    folder = write_movielens(
        tmp_path / "ml",
        movies="movieId,title,genres\n"
               '4973,"Amelie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy|Romance\n'
               "47,Seven (a.k.a. Se7en) (1995),Mystery|Thriller\n",
        links="movieId,imdbId,tmdbId\n4973,0211915,194\n47,0114369,807\n",
        ratings="userId,movieId,rating,timestamp\n1,4973,4.0,964982703\n",
    )
    report = ingest_movielens(engine, folder, FakeEmbedder())
    assert (report.inserted, report.updated) == (1, 1)

    def akas() -> dict:
        with engine.connect() as conn:
            return {r.imdb_id: (r.title, r.year, r.titles_aka) for r in conn.execute(text(
                "SELECT imdb_id, title, year, titles_aka FROM movies ORDER BY id"))}

    assert akas() == {
        211915: ("Le fabuleux destin d'Amélie Poulain", 2001, ["Amelie"]),  # its own title is not repeated
        114369: ("Seven", 1995, ["Se7en"]),
    }
    before = snapshot(engine)
    again = ingest_movielens(engine, folder, FakeEmbedder())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(engine) == before
    ingest_movies(engine, course, FakeEmbedder())  # the course file again leaves them alone
    assert snapshot(engine) == before

    catalog = PgCatalog(engine, FakeEmbedder())
    amelie = next(r for r in catalog._titles().rows if r[1] == "Le fabuleux destin d'Amélie Poulain")
    assert catalog.resolve("Amelie") == catalog.resolve("amélie") == amelie
    assert catalog.resolve("Se7en")[1:] == ("Seven", 1995)


def test_course_file_after_movielens_keeps_its_title_as_an_alternative(fresh, tmp_path):
    engine = fresh()
    folder = write_movielens(
        tmp_path / "ml", movies='movieId,title,genres\n4973,"Amelie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy\n',
        links="movieId,imdbId,tmdbId\n4973,0211915,194\n", ratings="userId,movieId,rating,timestamp\n",
    )
    ingest_movielens(engine, folder, FakeEmbedder())
    ingest_movies(engine, write_json(tmp_path / "m.json", {"films": {"film": [
        {"titre": "Le fabuleux destin d'Amélie Poulain", "annee": "2001", "_id": "211915"},
    ]}}), FakeEmbedder())
    [amelie] = rows(engine)
    with engine.connect() as conn:
        akas = conn.execute(text("SELECT titles_aka FROM movies")).scalar_one()
    assert (amelie["title"], amelie["source"], akas) == ("Le fabuleux destin d'Amélie Poulain", "course", ["Amelie"])
    again = ingest_movielens(engine, folder, FakeEmbedder())
    assert (again.inserted, again.updated) == (0, 0)


BAD_MOVIELENS = {
    "wrong-header": ({"movies": "id,name,genres\n1,Heat (1995),Crime\n"},
                     ["movies.csv, line 1", "expected 'movieId,title,genres'"]),
    "bad-rating": ({"ratings": "userId,movieId,rating,timestamp\n1,1,4.0,1\n2,1,great,2\n"},
                   ["ratings.csv line 3", "rating 'great' is not a number"]),
    "rating-out-of-range": ({"ratings": "userId,movieId,rating,timestamp\n1,1,7,1\n"},
                            ["ratings.csv line 2", "rating 7.0 is out of range"]),
    "short-line": ({"links": "movieId,imdbId,tmdbId\n1,0133093\n"}, ["links.csv, line 2", "has 2 fields, expected 3"]),
    "bad-movie-id": ({"movies": "movieId,title,genres\n1,Heat (1995),Crime\nx2,Jaws (1975),Horror\n"},
                     ["movies.csv line 3", "movieId 'x2' is not a whole number"]),
    "duplicate-movie-id": ({"movies": "movieId,title,genres\n1,Heat (1995),Crime\n1,Jaws (1975),Horror\n"},
                           ["movies.csv line 3", "movieId 1 appears twice (first at movies.csv line 2)"]),
    "duplicate-imdb": ({"links": "movieId,imdbId,tmdbId\n1,0133093,603\n2,133093,902\n"},
                       ["links.csv line 3", "IMDb id 133093 is linked twice"]),
    "duplicate-rating": ({"ratings": "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,1,3.0,2\n"},
                         ["ratings.csv line 3", "user 1 rates movieId 1 twice"]),
}


@pytest.mark.parametrize("case", sorted(BAD_MOVIELENS))
def test_bad_movielens_folder_raises_and_leaves_database_unchanged(case, fresh, tmp_path):
    engine = fresh()
    ingest_movielens(engine, write_movielens(tmp_path / "good"), FakeEmbedder())
    before = snapshot(engine)
    files, fragments = BAD_MOVIELENS[case]
    folder = write_movielens(tmp_path / "bad", **files)
    fake = FakeEmbedder()
    with pytest.raises(IngestError) as err:
        ingest_movielens(engine, folder, fake)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert fake.texts == []
    assert snapshot(engine) == before


def test_movielens_missing_file_and_not_utf8(fresh, tmp_path):
    engine = fresh()
    folder = write_movielens(tmp_path / "ml")
    (folder / "links.csv").unlink()
    with pytest.raises(IngestError, match=r"has no links\.csv"):
        ingest_movielens(engine, folder, FakeEmbedder())
    write_movielens(folder)
    (folder / "movies.csv").write_bytes(b"movieId,title,genres\n1,Heat (1995),Crime\n2,Am\xe9lie (2001),Comedy\n")
    with pytest.raises(IngestError, match=r"movies\.csv, line 3: byte \d+ is not valid UTF-8"):
        ingest_movielens(engine, folder, FakeEmbedder())
    assert snapshot(engine) == ((0, "d41d8cd98f00b204e9800998ecf8427e"), (0, "d41d8cd98f00b204e9800998ecf8427e"))


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(new_database, monkeypatch, tmp_path, embedder):
    from chatbot import wiring

    url = new_database("cli")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MOVIE_RAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setattr(wiring, "embedder", lambda settings: embedder)
    yield url
    wiring._engine_for(url).dispose()


def test_cli_ingest_demo_json_then_human(cli_env, capsys):
    from chatbot.cli import main

    assert main(["ingest", "demo", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("file", "format", "inserted", "updated", "unchanged", "embedded", "total_movies")} == {
        "file": "demo_movies.json", "format": "demo", "inserted": DEMO_COUNT, "updated": 0, "unchanged": 0,
        "embedded": DEMO_COUNT, "total_movies": DEMO_COUNT,
    }
    assert main(["ingest", "demo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(
        rf"catalog loaded: {DEMO_COUNT} movies \(0 inserted, 0 updated, {DEMO_COUNT} unchanged, 0 embedded\) in \d+\.\d s",
        lines[-1],
    )


def test_cli_ingest_movies_and_movielens(cli_env, capsys, tmp_path):
    from chatbot.cli import main

    path = write_json(tmp_path / "movies.json", SEED)
    assert main(["ingest", "movies", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 2
    folder = write_movielens(tmp_path / "ml")
    assert main(["ingest", "movielens", str(folder)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "ratings loaded: 4",
        captured.out.splitlines()[-1],
    ]
    assert captured.out.splitlines()[-1].startswith("catalog loaded: 5 movies (3 inserted, 0 updated, 0 unchanged, 3 embedded) in ")
    assert "warning: skipped 1 rating(s)" in captured.err


def test_cli_bad_input_exits_2_with_one_sentence(cli_env, capsys, tmp_path):
    from chatbot.cli import main

    missing = tmp_path / "missing.json"
    assert main(["ingest", "movies", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"movie-rag: {missing} does not exist; give the path of a movies JSON file."
    assert main(["ingest", "movielens", str(tmp_path / "nowhere")]) == 2
    assert "does not exist; give the path of a MovieLens folder." in capsys.readouterr().err

    bad = write_json(tmp_path / "bad.json", [{"title": "Jaws"}, {"year": 1999}])
    assert main(["ingest", "movies", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"movie-rag: {bad}, record 2: has no title (key 'title')")
    ml = write_movielens(tmp_path / "ml", ratings="userId,movieId,stars,timestamp\n1,1,4.0,1\n")
    assert main(["ingest", "movielens", str(ml)]) == 2
    assert "ratings.csv, line 1: the header is 'userId,movieId,stars,timestamp'" in capsys.readouterr().err


def test_real_movielens_folder_is_left_to_the_bench():
    """ml-latest-small embeds ~9,100 new films (about 2-3 minutes on two cores): measured by
    `make bench`, not here. Its parsing is checked without a database."""
    from retrieval.ingest import _read_csv


    if not (MOVIELENS_DIR / "movies.csv").exists():
        pytest.skip(f"{MOVIELENS_DIR} is absent")
    assert len(_read_csv(MOVIELENS_DIR, "movies.csv")) == 9742
    assert len(_read_csv(MOVIELENS_DIR, "links.csv")) == 9742
