"""Recommendations of the "users like you" kind, from the MovieLens `ratings` table.

Fans are the users who rated at least one liked film >= `min_rating`. For every other film `j`:

    co(j)   = fans who also rated j >= min_rating
    pop(j)  = all users who rated j >= min_rating
    score   = co(j) / sqrt(pop(j) * |fans|)

the cosine between j's "liked it" users and the fans, so a film every fan loves scores 1 and
blockbusters everyone likes do not drown niche matches. Ties: higher co(j) first, then id.

With no fans (no ratings loaded, or none for these films) the answer falls back to the films
nearest the average embedding of the liked ones; score = 1 - cosine distance, with the distance.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, text

from retrieval.search import MOVIE_COLUMNS, hit_from_row
from retrieval.types import MovieHit

_CO_OCCURRENCE = text(
    "WITH liked AS (SELECT unnest(CAST(:liked AS int[])) AS movie_id), "
    "fans AS (SELECT DISTINCT r.user_id FROM ratings r JOIN liked l ON l.movie_id = r.movie_id "
    "         WHERE r.rating >= :min_rating), "
    "n_fans AS (SELECT count(*) AS n FROM fans), "
    "co AS (SELECT r.movie_id, count(*) AS co FROM ratings r JOIN fans f ON f.user_id = r.user_id "
    "       WHERE r.rating >= :min_rating AND r.movie_id <> ALL(CAST(:liked AS int[])) "
    "       GROUP BY r.movie_id), "
    "pop AS (SELECT r.movie_id, count(*) AS pop FROM ratings r JOIN co USING (movie_id) "
    "        WHERE r.rating >= :min_rating GROUP BY r.movie_id) "
    f"SELECT {MOVIE_COLUMNS}, co.co, co.co / sqrt(pop.pop::float8 * n_fans.n) AS score "
    "FROM co JOIN pop USING (movie_id) CROSS JOIN n_fans JOIN movies m ON m.id = co.movie_id "
    "ORDER BY score DESC, co.co DESC, m.id LIMIT :k"
)

_CENTROID = text(
    f"SELECT {MOVIE_COLUMNS}, m.embedding <=> c.v AS distance "
    "FROM movies m, (SELECT avg(embedding) AS v FROM movies "
    "                WHERE id = ANY(CAST(:liked AS int[])) AND embedding IS NOT NULL) c "
    "WHERE c.v IS NOT NULL AND m.embedding IS NOT NULL AND m.id <> ALL(CAST(:liked AS int[])) "
    "ORDER BY distance, m.id LIMIT :k"
)


def recommend(
    engine: Engine, liked_ids: Sequence[int], *, k: int = 10, min_rating: float = 4.0,
) -> list[MovieHit]:
    """Films that people who liked `liked_ids` also liked (see the module doc for the score)."""
    liked = sorted({int(i) for i in liked_ids})
    if not liked:
        return []
    params = {"liked": liked, "min_rating": float(min_rating), "k": int(k)}
    with engine.connect() as conn:
        rows = conn.execute(_CO_OCCURRENCE, params).all()
        if rows:
            return [hit_from_row(r, score=r.score) for r in rows]
        rows = conn.execute(_CENTROID, params).all()
    return [hit_from_row(r, score=1.0 - r.distance, distance=r.distance) for r in rows]
