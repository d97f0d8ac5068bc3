"""Recommendations of the "users like you" kind: co-occurrence over ratings, centroid fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from retrieval.database import make_engine
from retrieval.recommend import recommend
from retrieval.schema import Movie, Rating, create_schema

pytestmark = pytest.mark.integration

TITLES = {1: "Alpha", 2: "Bravo", 3: "Charlie", 4: "Delta", 5: "Echo", 6: "Foxtrot", 7: "Golf"}
SUMMARIES = {
    1: "Toys come alive when their owner leaves the room.",
    2: "A robot left alone on a polluted Earth falls in love.",
    3: "A clownfish searches the ocean for his lost son.",
    4: "A rat in Paris dreams of becoming a great chef.",
    5: "Bank robbers plan one last heist in Los Angeles.",
    6: "A detective hunts a serial killer in a rainy city.",
    7: "A family of superheroes hides its powers in the suburbs.",
}
# Fans of film 1 (rated it >= 4): users 1, 2, 3. User 6 rated it 3 (not a fan).
RATINGS = [
    (1, 1, 5.0), (1, 2, 5.0), (1, 3, 4.0), (1, 7, 5.0),
    (2, 1, 4.5), (2, 2, 4.0), (2, 4, 5.0), (2, 7, 5.0),
    (3, 1, 4.0), (3, 3, 2.0), (3, 5, 5.0),
    (4, 2, 5.0), (4, 3, 5.0), (4, 4, 5.0), (4, 5, 5.0), (4, 7, 4.0),
    (5, 6, 5.0), (5, 7, 4.0),
    (6, 1, 3.0), (6, 6, 5.0), (6, 7, 4.5),
    (7, 3, 4.0), (7, 7, 4.0),
    (8, 7, 5.0), (9, 7, 5.0), (10, 7, 5.0),
]


@pytest.fixture(scope="module")
def engines(new_database, embedder):
    """Two catalogs with the same films: one with ratings, one without."""
    vectors = embedder.embed_documents([f"{TITLES[i]}. {SUMMARIES[i]}" for i in sorted(TITLES)])
    made = []
    for with_ratings in (True, False):
        engine = make_engine(new_database("recommend"))
        create_schema(engine)
        with Session(engine) as session, session.begin():
            for i, vec in zip(sorted(TITLES), vectors, strict=True):
                session.add(Movie(id=i, title=TITLES[i], year=2000 + i, summary=SUMMARIES[i],
                                  source_key=f"test:{i}", source="test", embedding=vec))
            session.flush()
            if with_ratings:
                session.execute(insert(Rating), [
                    {"user_id": u, "movie_id": m, "rating": r} for u, m, r in RATINGS
                ])
        made.append(engine)
    yield made[0], made[1], dict(zip(sorted(TITLES), np.array(vectors), strict=True))
    for engine in made:
        engine.dispose()


def test_co_occurrence_order_and_scores(engines):
    rated, _, _ = engines
    hits = recommend(rated, [1], k=10)
    # co = fans (3) who liked j, pop = everyone who liked j; score = co / sqrt(pop * 3).
    # Bravo co 2 pop 3; Delta co 1 pop 2; Echo co 1 pop 2; Golf co 2 pop 9; Charlie co 1 pop 3.
    assert [h.id for h in hits] == [2, 4, 5, 7, 3]
    assert [h.score for h in hits] == pytest.approx([
        2 / math.sqrt(9), 1 / math.sqrt(6), 1 / math.sqrt(6), 2 / math.sqrt(27), 1 / math.sqrt(9),
    ])
    assert all(h.distance is None for h in hits)
    assert (hits[0].title, hits[0].year) == ("Bravo", 2002)


def test_liked_films_are_excluded_and_k_is_respected(engines):
    rated, _, _ = engines
    hits = recommend(rated, [1, 2], k=2)
    assert 1 not in [h.id for h in hits] and 2 not in [h.id for h in hits]
    # Fans: users 1, 2, 3, 4. Golf: co 3 (u1, u2, u4), pop 9; Delta: co 2 (u2, u4), pop 2;
    # Echo: co 2 (u3, u4), pop 2; Charlie: co 2 (u1, u4), pop 3.
    assert [h.id for h in hits] == [4, 5]
    assert hits[0].score == pytest.approx(2 / math.sqrt(2 * 4))


def test_min_rating_changes_who_counts_as_a_fan(engines):
    rated, _, _ = engines
    # At >= 3, user 6 (rated Alpha 3) is a fan too and brings Foxtrot in.
    assert 6 in [h.id for h in recommend(rated, [1], k=10, min_rating=3.0)]
    assert 6 not in [h.id for h in recommend(rated, [1], k=10)]


def test_without_ratings_falls_back_to_the_embedding_centroid(engines):
    _, unrated, vectors = engines
    liked = [1, 3]
    centroid = (vectors[1] + vectors[3]) / 2
    others = [i for i in sorted(vectors) if i not in liked]
    dist = {i: 1 - vectors[i] @ centroid / (np.linalg.norm(vectors[i]) * np.linalg.norm(centroid)) for i in others}
    expected = sorted(others, key=lambda i: (dist[i], i))[:4]
    hits = recommend(unrated, liked, k=4)
    assert [h.id for h in hits] == expected
    assert [h.distance for h in hits] == pytest.approx([dist[i] for i in expected], abs=1e-5)
    assert [h.score for h in hits] == pytest.approx([1 - dist[i] for i in expected], abs=1e-5)


def test_no_liked_or_unknown_films_give_nothing(engines):
    rated, unrated, _ = engines
    assert recommend(rated, []) == []
    assert recommend(unrated, [999]) == []
