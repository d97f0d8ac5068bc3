"""People as vectors: MovieLens users as `sparsevec` rows of `users`, a person's own stars in
`person_ratings`, and the nearest users to any taste.

**Sparse vectors.** Dimension = `movies.id` (D = `schema.USER_VECTOR_DIM`), value = stars. Search
compares the *centred* vector (rating minus the user's baseline) by cosine, which makes two users
close when they rate the same films above and below their own habit, Pearson-like. The baseline is
the user's mean rating when they gave at least `MIN_FOR_OWN_MEAN` ratings that are not all equal,
else 3.0 (the middle of the 0.5-5 scale): "I loved Heat and Alien" is two 5s, and centring on
their own mean would erase them.

**Index and the non-zero limit.** pgvector's HNSW on sparsevec takes at most 1,000 non-zero
elements, so `users_centred_hnsw` is a partial index over users with 1..1000 ratings; users above
the limit (12 of ml-latest-small's 610) are scanned exactly and merged with the index's answer,
so none is ever missed for being a heavy rater.

**Dense profiles.** `profile` = sum over the user's films rated above baseline of
(rating - baseline) * embedding, divided by the sum of the weights: a point in the movies'
embedding space; the nearest profiles are a second "users like you".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sqlalchemy import Connection, Engine, text

from retrieval.indexing import plan_search, planned
from retrieval.schema import HNSW_SPARSE_MAX_NNZ, USER_VECTOR_DIM

MIN_FOR_OWN_MEAN = 5
NEUTRAL = 3.0
LIKE, DISLIKE = 5.0, 1.0
"""Stars given to films a person names as liked / disliked (CLI --likes/--dislikes, chat)."""

Metric = Literal["cosine", "inner"]
By = Literal["sparse", "dense"]


@dataclass(kw_only=True)
class Taste:
    """What a person rated, ready to compare with users."""

    ratings: dict[int, float]
    """movies.id -> stars."""
    user_id: int | None = None
    """The MovieLens user this is (excluded from their own neighbours)."""
    baseline: float = NEUTRAL
    seen: set[int] = field(default_factory=set)
    """Films never to recommend (everything rated)."""

    @classmethod
    def of(cls, ratings: Mapping[int, float], *, user_id: int | None = None) -> Taste:
        r = {int(k): float(v) for k, v in ratings.items()}
        return cls(ratings=r, user_id=user_id, baseline=baseline(r.values()), seen=set(r))

    @property
    def centred(self) -> dict[int, float]:
        return {m: v - self.baseline for m, v in self.ratings.items() if v != self.baseline}

    @property
    def liked(self) -> list[int]:
        """Films rated above baseline, best first."""
        return sorted((m for m, d in self.centred.items() if d > 0), key=lambda m: (-self.ratings[m], m))


def baseline(ratings: Iterable[float]) -> float:
    values = list(ratings)
    if len(values) >= MIN_FOR_OWN_MEAN and max(values) > min(values):
        return sum(values) / len(values)
    return NEUTRAL


def sparsevec_literal(values: Mapping[int, float]) -> str:
    """pgvector's text form: {id:value,...}/D, indices ascending, zeros left out."""
    body = ",".join(f"{i}:{v:.6g}" for i, v in sorted(values.items()) if v != 0)
    return f"{{{body}}}/{USER_VECTOR_DIM}"


def taste_from_likes(likes: Sequence[int], dislikes: Sequence[int] = ()) -> Taste:
    ratings = {int(m): LIKE for m in likes} | {int(m): DISLIKE for m in dislikes}
    return Taste.of(ratings)


def taste_of_user(conn: Connection, user_id: int) -> Taste | None:
    """A MovieLens user's taste from `ratings` (None if the user has none)."""
    rows = conn.execute(text("SELECT movie_id, rating FROM ratings WHERE user_id = :u"), {"u": user_id}).all()
    return Taste.of({r[0]: r[1] for r in rows}, user_id=user_id) if rows else None


# --- building users at ingest -----------------------------------------------------------------

_BASELINE_SQL = (
    f"CASE WHEN count(*) >= {MIN_FOR_OWN_MEAN} AND max(rating) > min(rating) THEN avg(rating) "
    f"ELSE {NEUTRAL} END"
)

# One row per user with ratings; unchanged rows are not rewritten (re-ingest writes nothing).
_USERS_UPSERT = f"""
WITH b AS (
    SELECT user_id, count(*)::integer AS n, {_BASELINE_SQL} AS baseline
    FROM ratings GROUP BY user_id
), v AS (
    SELECT r.user_id, b.n, b.baseline,
           format('{{%s}}/{USER_VECTOR_DIM}', string_agg(r.movie_id || ':' || r.rating, ',' ORDER BY r.movie_id))
               AS ratings,
           format('{{%s}}/{USER_VECTOR_DIM}', coalesce(string_agg(r.movie_id || ':' || (r.rating - b.baseline), ','
               ORDER BY r.movie_id) FILTER (WHERE r.rating <> b.baseline), '')) AS centred,
           count(*) FILTER (WHERE r.rating <> b.baseline)::integer AS nnz
    FROM ratings r JOIN b USING (user_id)
    GROUP BY r.user_id, b.n, b.baseline
)
INSERT INTO users (user_id, n_ratings, baseline, nnz, ratings, centred)
SELECT user_id, n, baseline, nnz, CAST(ratings AS sparsevec), CAST(centred AS sparsevec) FROM v
ON CONFLICT (user_id) DO UPDATE
SET n_ratings = EXCLUDED.n_ratings, baseline = EXCLUDED.baseline, nnz = EXCLUDED.nnz,
    ratings = EXCLUDED.ratings, centred = EXCLUDED.centred
WHERE users.ratings IS DISTINCT FROM EXCLUDED.ratings OR users.baseline IS DISTINCT FROM EXCLUDED.baseline
RETURNING user_id
"""

_USERS_STALE = "DELETE FROM users u WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = u.user_id)"


def refresh_users(conn: Connection) -> int:
    """Make `users` match `ratings` (inside the caller's transaction) and recompute the profiles;
    return how many user rows were written (0 on a re-ingest of the same data)."""
    changed = {r[0] for r in conn.execute(text(_USERS_UPSERT))}
    conn.execute(text(_USERS_STALE))
    refresh_profiles(conn)
    if changed:
        conn.execute(text("ANALYZE users"))  # the size retrieval.indexing plans nearest users by
    return len(changed)


def refresh_profiles(conn: Connection) -> int:
    """Recompute every user's `profile` (numpy over the liked films' vectors, in a fixed order so
    a re-run gives the same floats); only profiles that changed are written. Returns that count."""
    rows = conn.execute(text(
        "SELECT r.user_id, r.movie_id, r.rating - u.baseline AS w FROM ratings r "
        "JOIN users u USING (user_id) WHERE r.rating > u.baseline ORDER BY r.user_id, r.movie_id"
    )).all()
    if not rows:
        return 0
    vectors = movie_vectors(conn, {r[1] for r in rows})
    sums: dict[int, np.ndarray] = {}
    weights: dict[int, float] = {}
    for user, movie, w in rows:
        vec = vectors.get(movie)
        if vec is None:
            continue
        sums[user] = sums.get(user, 0) + w * vec
        weights[user] = weights.get(user, 0.0) + w
    params = [{"u": u, "p": _vector_literal(s / weights[u])} for u, s in sums.items()]
    if not params:
        return 0
    result = conn.execute(text(
        "UPDATE users SET profile = CAST(:p AS vector) "
        "WHERE user_id = :u AND profile IS DISTINCT FROM CAST(:p AS vector)"
    ), params)
    return int(result.rowcount or 0)


def movie_vectors(conn: Connection, ids: Iterable[int]) -> dict[int, np.ndarray]:
    rows = conn.execute(
        text("SELECT id, embedding::text FROM movies WHERE id = ANY(CAST(:ids AS int[])) AND embedding IS NOT NULL"),
        {"ids": sorted(ids)},
    ).all()
    return {r[0]: np.array(r[1][1:-1].split(","), dtype=np.float64) for r in rows}


def profile_of(conn: Connection, taste: Taste) -> list[float] | None:
    """The dense profile of any taste, by the rule the `users` rows follow."""
    weights = {m: d for m, d in taste.centred.items() if d > 0}
    vectors = movie_vectors(conn, weights)
    if not vectors:
        return None
    total = np.sum([weights[m] * v for m, v in vectors.items()], axis=0)
    return [float(x) for x in total / sum(weights[m] for m in vectors)]


def _vector_literal(vec: Iterable[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vec) + "]"


# --- nearest users ----------------------------------------------------------------------------

_OPS = {"cosine": "<=>", "inner": "<#>"}


def nearest_users(
    conn: Connection, taste: Taste, *, k: int = 30, by: By = "sparse", metric: Metric = "cosine",
) -> list[tuple[int, float]]:
    """(user_id, similarity) of the k users closest to `taste`, most similar first. Cosine
    similarity is 1 - distance; inner product is the dot product of centred ratings."""
    op = _OPS[metric]
    self_id = taste.user_id if taste.user_id is not None else -1
    params: dict[str, object] = {"k": int(k), "self": self_id}
    if by == "dense":
        profile = profile_of(conn, taste) if taste.user_id is None else None
        if taste.user_id is not None:
            profile_sql = "(SELECT profile FROM users WHERE user_id = :self)"
        elif profile is None:
            return []
        else:
            params["q"] = _vector_literal(profile)
            profile_sql = "CAST(:q AS vector)"
        plan = plan_search(conn, k=int(k), table="users", from_sql="users")
        sql = (
            f"SELECT user_id, profile {op} {profile_sql} AS d FROM users "
            f"WHERE profile IS NOT NULL AND user_id <> :self ORDER BY d{plan.order_tail('user_id')} LIMIT :k"
        )
    else:
        centred = taste.centred
        if not centred:
            return []
        params["q"] = sparsevec_literal(centred)
        plan = plan_search(conn, k=int(k), table="users", from_sql="users", kind="users_sparse")
        # The partial HNSW index answers for users within the non-zero limit; the heavy raters
        # beside it are few and scanned exactly; the union is re-ranked.
        sql = (
            f"SELECT user_id, d FROM ("
            f" (SELECT user_id, centred {op} CAST(:q AS sparsevec) AS d FROM users"
            f"  WHERE nnz BETWEEN 1 AND {HNSW_SPARSE_MAX_NNZ} AND user_id <> :self"
            f"  ORDER BY centred {op} CAST(:q AS sparsevec){plan.order_tail('user_id')} LIMIT :k)"
            f" UNION ALL"
            f" (SELECT user_id, centred {op} CAST(:q AS sparsevec) FROM users"
            f"  WHERE nnz > {HNSW_SPARSE_MAX_NNZ} AND user_id <> :self)"
            f") n ORDER BY d, user_id LIMIT :k"
        )
    with planned(conn, plan):
        rows = conn.execute(text(sql), params).all()
    return [(r[0], (1.0 - r[1]) if metric == "cosine" else -r[1]) for r in rows]


# --- a person's own ratings -------------------------------------------------------------------


def rate(engine: Engine, owner: str, movie_id: int, rating: float | None) -> None:
    """Store (or with None, forget) one person's stars for one film; survives restarts."""
    with engine.begin() as conn:
        if rating is None:
            conn.execute(text("DELETE FROM person_ratings WHERE owner = :o AND movie_id = :m"), {"o": owner, "m": movie_id})
            return
        if not 0.5 <= rating <= 5.0:
            raise ValueError(f"rating {rating} is out of range; give 0.5 to 5 stars")
        conn.execute(text(
            "INSERT INTO person_ratings (owner, movie_id, rating) VALUES (:o, :m, :r) "
            "ON CONFLICT (owner, movie_id) DO UPDATE SET rating = EXCLUDED.rating, rated_at = now()"
        ), {"o": owner, "m": movie_id, "r": float(rating)})


def ratings_of(engine: Engine, owner: str) -> dict[int, float]:
    """A person's stars: movies.id -> rating."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT movie_id, rating FROM person_ratings WHERE owner = :o"), {"o": owner}).all()
    return {r[0]: r[1] for r in rows}
