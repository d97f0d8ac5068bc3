"""The record formats as pydantic models, without a database: each format's keys land in the right
columns, and a bad record gets one sentence naming the file, the record or line, the key, what is
wrong and what to do."""

from __future__ import annotations

import json

import pytest

from retrieval.ingest import IngestError, read_movies_file
from retrieval.ingest.models import (
    NATIVE_KEYS,
    CourseFilm,
    MovieLensFilm,
    MovieLensLink,
    MovieLensRating,
    parse,
)

TAIL = " The catalog was left unchanged."


def _read(tmp_path, doc):
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, read_movies_file(path)


def test_course_keys_are_aliases_of_columns(tmp_path):
    film = {
        "titre": "  La  Haine ", "annee": "1995", "pays": ["France"], "langue": "French", "duree": "98",
        "resume": "Three friends, one day.", "genre": ["Crime", "Drama", "Crime"],
        "realisateur": {"_id": "1", "__text": "Mathieu Kassovitz"}, "scenariste": ["Mathieu Kassovitz"],
        "role": [{"acteur": {"_id": "2", "__text": "Vincent Cassel"}, "personnage": "Vinz"}, "Hubert Koundé"],
        "poster": "https://example.org/p.jpg", "_id": "tt0113247", "annonce": "ignored",
    }
    _, (fmt, [record]) = _read(tmp_path, {"films": {"film": film}})
    assert fmt == "course"
    assert record.source_key == "imdb:113247"
    assert record.values == {
        "title": "La Haine", "year": 1995, "country": "France", "language": "French", "duration_min": 98,
        "summary": "Three friends, one day.", "genres": ["Crime", "Drama"], "director": "Mathieu Kassovitz",
        "writers": ["Mathieu Kassovitz"], "actors": ["Vincent Cassel", "Hubert Koundé"],
        "poster_url": "https://example.org/p.jpg", "imdb_id": 113247,
    }


def test_keys_left_out_stay_unset_and_null_clears(tmp_path):
    _, (_, records) = _read(tmp_path, [{"title": "Heat", "year": None}, {"title": "Jaws", "plot": "A shark."}])
    assert [r.values for r in records] == [{"title": "Heat", "year": None}, {"title": "Jaws", "summary": "A shark."}]
    # the course's `_id: null` says nothing about the IMDb id
    assert CourseFilm.model_validate({"titre": "Heat", "_id": None}).values() == {"title": "Heat"}


def test_native_keys_come_from_the_model():
    assert {
        "title", "year", "country", "language", "duration_min", "summary", "plot", "genres", "director",
        "writers", "actors", "poster_url", "imdb_id",
    } == NATIVE_KEYS


BAD_RECORDS = {
    "course year out of range": (
        {"films": {"film": [{"titre": "Jaws", "annee": "1875"}, {"titre": "Metropolis", "annee": "1827"}]}},
        "record 2 ('Metropolis'): annee 1827 is out of range (1870..2100); correct annee.",
    ),
    "course role not an object": (
        {"films": {"film": [{"titre": "Jaws", "role": [7]}]}},
        "record 1 ('Jaws'): role holds a JSON int; give each role as {\"acteur\": ..., \"personnage\": ...}.",
    ),
    "course bad imdb id": (
        {"films": {"film": [{"titre": "Jaws", "_id": "nm0000229"}]}},
        "record 1 ('Jaws'): _id 'nm0000229' is not an IMDb id; give the number of the IMDb id (tt0119190 or 119190).",
    ),
    "course pays as an object": (
        {"films": {"film": [{"titre": "Jaws", "pays": {"name": "USA"}}]}},
        "record 1 ('Jaws'): pays is a JSON dict, expected text; give pays as a string.",
    ),
    "native title a list": (
        [{"title": ["Heat"], "year": 1995}],
        "record 1: title is a JSON list, not text; give the title as a string.",
    ),
    "native fractional duration": (
        [{"title": "Heat", "duration_min": 170.5}],
        "record 1 ('Heat'): duration_min 170.5 is not a whole number; give duration_min as a whole number.",
    ),
    "plot and summary": (
        [{"title": "Heat", "plot": "Cops.", "summary": "Robbers."}],
        "record 1 ('Heat'): has both 'plot' and 'summary'; keep one of them.",
    ),
    "plot list empty title": (
        [{"title": "Heat", "plot": "Cops."}, {"title": " ", "plot": "Nothing."}],
        "record 2: the title (key 'title') is empty; give every movie a title.",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_bad_record_gets_one_sentence(case, tmp_path):
    doc, expected = BAD_RECORDS[case]
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(IngestError) as err:
        read_movies_file(path)
    assert str(err.value) == f"{path}, {expected}{TAIL}"


BAD_LINES = {
    "empty movieId": (MovieLensFilm, {"movieId": " ", "title": "Heat (1995)", "genres": "Crime"},
                      "movieId is empty; give every line a movieId."),
    "title only a year": (MovieLensFilm, {"movieId": "4", "title": "(1995)", "genres": "Crime"},
                          "the title is empty; give every movie a title."),
    "tmdb not a number": (MovieLensLink, {"movieId": "1", "imdbId": "0114709", "tmdbId": "8.6e2x"},
                          "tmdbId '8.6e2x' is not a whole number; give tmdbId as a whole number."),
    "imdb with letters": (MovieLensLink, {"movieId": "1", "imdbId": "0114709b", "tmdbId": ""},
                          "imdbId '0114709b' is not an IMDb id; give the number of the IMDb id (tt0119190 or 119190)."),
    "negative rating": (MovieLensRating, {"userId": "1", "movieId": "1", "rating": "-1", "timestamp": ""},
                        "rating -1.0 is out of range (0.0..5.0); correct rating."),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_movielens_line_gets_one_sentence(case):
    model, row, expected = BAD_LINES[case]
    with pytest.raises(IngestError) as err:
        parse(model, row, where="x.csv line 7", file="ml")
    assert str(err.value) == f"ml, x.csv line 7: {expected}{TAIL}"


def test_movielens_lines_as_models():
    film = parse(MovieLensFilm, {"movieId": "2", "title": "Matrix, The (1999)", "genres": "Action|Sci-Fi"}, where="", file="ml")
    assert film.values() == {"movielens_id": 2, "title": "The Matrix", "year": 1999, "genres": ["Action", "Sci-Fi"], "titles_aka": []}
    film = parse(MovieLensFilm, {"movieId": "47", "title": "Seven (a.k.a. Se7en) (1995)", "genres": "Thriller"}, where="", file="ml")
    assert (film.title, film.titles_aka) == ("Seven", ["Se7en"])
    link = parse(MovieLensLink, {"movieId": "2", "imdbId": "0133093", "tmdbId": ""}, where="", file="ml")
    assert (link.movielens_id, link.imdb_id, link.tmdb_id) == (2, 133093, None)
    rated = parse(MovieLensRating, {"userId": "9", "movieId": "2", "rating": "4.5", "timestamp": "964982703"}, where="", file="ml")
    assert (rated.user_id, rated.movielens_id, rated.rating, rated.timestamp) == (9, 2, 4.5, 964982703)


def test_a_missing_course_title_names_the_course_key(tmp_path):
    path = tmp_path / "movies.json"
    path.write_text(json.dumps({"films": {"film": [{"annee": "1999"}]}}), encoding="utf-8")
    with pytest.raises(IngestError) as err:
        read_movies_file(path)
    assert str(err.value) == f"{path}, record 1: has no title (key 'titre'); give every movie a title.{TAIL}"
