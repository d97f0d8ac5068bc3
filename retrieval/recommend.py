"""Recommendations of the "users like you" kind, from the MovieLens `ratings` table.

Fans are the users who rated at least one liked film >= `min_rating`. For every other film `j`:

    co(j)   = fans who also rated j >= min_rating
    pop(j)  = all users who rated j >= min_rating
    score   = co(j) / sqrt(pop(j) * |fans|)

the cosine between j's "liked it" users and the fans, so a film every fan loves scores 1 and
blockbusters everyone likes do not drown niche matches. Ties: higher co(j) first, then id.

With no fans (no ratings loaded, or none for these films) the answer falls back to the films
nearest the average embedding of the liked ones; score = 1 - cosine distance, with the distance.

**Users like you** (`recommend_for`, methods sparse / dense / items / blend / popular): find the
k nearest users to a taste (retrieval/users.py: sparse centred rating vectors, or dense
profiles), then for every film the person has not rated

    score(j) = sum over neighbours v who rated j of sim(v) * (r_vj - baseline_v)
               / sum over all k neighbours of sim(v)

(mean-centred, similarity-weighted; a neighbour who did not rate j counts as neutral, so a film
many neighbours liked beats one a single neighbour loved: on ml-latest-small dividing by the
raters' similarity alone scored nDCG@10 0.18 against 0.22 for this), keeping films at least
`min_support` neighbours rated and whose score is positive (they liked it more than they
usually like films). Only neighbours with positive similarity vote. The
reason names how many neighbours liked the film and the person's liked films those same
neighbours liked most. `blend` fuses the sparse, dense and item rankings by reciprocal rank.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from retrieval.indexing import plan_search, planned
from retrieval.search import MOVIE_COLUMNS, hit_from_row
from retrieval.types import MovieHit
from retrieval.users import Taste, nearest_users, ratings_of, taste_from_likes

_CO_OCCURRENCE = text(
    "WITH liked AS (SELECT unnest(CAST(:liked AS int[])) AS movie_id), "
    "fans AS (SELECT DISTINCT r.user_id FROM ratings r JOIN liked l ON l.movie_id = r.movie_id "
    "         WHERE r.rating >= :min_rating), "
    "n_fans AS (SELECT count(*) AS n FROM fans), "
    "co AS (SELECT r.movie_id, count(*) AS co FROM ratings r JOIN fans f ON f.user_id = r.user_id "
    "       WHERE r.rating >= :min_rating AND r.movie_id <> ALL(CAST(:seen AS int[])) "
    "       GROUP BY r.movie_id), "
    "pop AS (SELECT r.movie_id, count(*) AS pop FROM ratings r JOIN co USING (movie_id) "
    "        WHERE r.rating >= :min_rating GROUP BY r.movie_id) "
    f"SELECT {MOVIE_COLUMNS}, co.co, co.co / sqrt(pop.pop::float8 * n_fans.n) AS score "
    "FROM co JOIN pop USING (movie_id) CROSS JOIN n_fans JOIN movies m ON m.id = co.movie_id "
    "ORDER BY score DESC, co.co DESC, m.id LIMIT :k"
)

_CENTROID = (
    f"SELECT {MOVIE_COLUMNS}, m.embedding <=> c.v AS distance "
    "FROM movies m, (SELECT avg(embedding) AS v FROM movies "
    "                WHERE id = ANY(CAST(:liked AS int[])) AND embedding IS NOT NULL) c "
    "WHERE c.v IS NOT NULL AND m.embedding IS NOT NULL AND m.id <> ALL(CAST(:liked AS int[])) "
    "ORDER BY distance{tail} LIMIT :k"
)


def recommend(
    engine: Engine, liked_ids: Sequence[int], *, k: int = 10, min_rating: float = 4.0,
) -> list[MovieHit]:
    """Films that people who liked `liked_ids` also liked (see the module doc for the score)."""
    liked = sorted({int(i) for i in liked_ids})
    if not liked:
        return []
    with engine.connect() as conn:
        hits = co_liked(conn, liked, k=k, min_rating=min_rating)
        if hits:
            return [h for h, _ in hits]
        with planned(conn, plan_search(conn, k=int(k))) as plan:
            rows = conn.execute(text(_CENTROID.format(tail=plan.order_tail())), {"liked": liked, "k": int(k)}).all()
    return [hit_from_row(r, score=1.0 - r.distance, distance=r.distance) for r in rows]


def co_liked(
    conn: Connection, liked: Sequence[int], *, k: int, min_rating: float = 4.0, seen: Sequence[int] = (),
) -> list[tuple[MovieHit, int]]:
    """(hit, co-likes) by the co-occurrence score of the module doc, never a film in `seen`."""
    params = {"liked": sorted(liked), "seen": sorted({*liked, *seen}), "min_rating": float(min_rating), "k": int(k)}
    return [(hit_from_row(r, score=r.score), int(r.co)) for r in conn.execute(_CO_OCCURRENCE, params)]


# --- users like you ----------------------------------------------------------------------------

Method = Literal["sparse", "dense", "items", "blend", "popular"]
METHODS: tuple[Method, ...] = ("sparse", "dense", "items", "blend", "popular")
DEFAULT_METHOD: Method = "sparse"
"""The best method of `movie-rag eval --recs` on ml-latest-small (see README, Recommendations)."""

NEIGHBOURS = 50
MIN_SUPPORT = 2
_RRF_K = 60


@dataclass(frozen=True)
class Recommendation:
    """One film to suggest, why, and from how many neighbours."""

    hit: MovieHit
    reason: str
    support: int = 0
    """Neighbours (or co-likers) the score rests on."""

    def to_json(self) -> dict[str, Any]:
        """The `movie-rag recommend --json` shape."""
        return {"id": self.hit.id, "title": self.hit.title, "year": self.hit.year,
                "score": round(self.hit.score, 6), "reason": self.reason}


_KNN_SCORES = text(
    "WITH nb AS (SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:sims AS float8[])) AS t(user_id, sim)) "
    "SELECT r.movie_id, sum(nb.sim * (r.rating - u.baseline)) / :total AS score, "
    "       count(*) AS support, "
    "       coalesce(array_agg(r.user_id) FILTER (WHERE r.rating > u.baseline), '{}') AS likers "
    "FROM nb JOIN ratings r ON r.user_id = nb.user_id JOIN users u ON u.user_id = nb.user_id "
    "WHERE nb.sim > 0 AND r.movie_id <> ALL(CAST(:seen AS int[])) "
    "GROUP BY r.movie_id "
    "HAVING count(*) >= :min_support AND sum(nb.sim * (r.rating - u.baseline)) > 0 "
    "ORDER BY score DESC, r.movie_id LIMIT :k"
)

# Which of the person's liked films each neighbour liked too (for the reasons).
_NEIGHBOUR_LIKES = text(
    "SELECT r.user_id, r.movie_id FROM ratings r JOIN users u USING (user_id) "
    "WHERE r.user_id = ANY(CAST(:ids AS int[])) AND r.movie_id = ANY(CAST(:liked AS int[])) "
    "AND r.rating > u.baseline"
)

_POPULAR = text(
    f"SELECT {MOVIE_COLUMNS}, p.n AS score FROM ("
    "  SELECT movie_id, count(*) AS n FROM ratings WHERE rating >= 4 "
    "  AND movie_id <> ALL(CAST(:seen AS int[])) GROUP BY movie_id) p "
    "JOIN movies m ON m.id = p.movie_id ORDER BY p.n DESC, m.id LIMIT :k"
)

_BY_IDS = text(f"SELECT {MOVIE_COLUMNS} FROM movies m WHERE m.id = ANY(CAST(:ids AS int[]))")


def recommend_for(
    conn: Connection, taste: Taste, *, method: Method = DEFAULT_METHOD, k: int = 10,
    neighbours: int = NEIGHBOURS, min_support: int = MIN_SUPPORT, reasons: bool = True,
) -> list[Recommendation]:
    """Films for `taste` by `method` (see the module doc); never one the taste has rated."""
    if method in ("sparse", "dense"):
        return _knn(conn, taste, by=method, k=k, neighbours=neighbours, min_support=min_support, reasons=reasons)
    if method == "items":
        return _items(conn, taste, k=k)
    if method == "popular":
        return [Recommendation(hit=hit_from_row(r, score=r.score), support=int(r.score),
                               reason=f"liked by {_people(int(r.score))}, one of the most liked films")
                for r in conn.execute(_POPULAR, {"seen": sorted(taste.seen), "k": int(k)})]
    if method == "blend":
        return _blend(conn, taste, k=k, neighbours=neighbours, min_support=min_support, reasons=reasons)
    raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


def _knn(
    conn: Connection, taste: Taste, *, by: Literal["sparse", "dense"], k: int, neighbours: int,
    min_support: int, reasons: bool,
) -> list[Recommendation]:
    near = [(u, s) for u, s in nearest_users(conn, taste, k=neighbours, by=by) if s > 0]
    if not near:
        return []
    ids = [u for u, _ in near]
    rows = conn.execute(_KNN_SCORES, {
        "ids": ids, "sims": [s for _, s in near], "seen": sorted(taste.seen), "total": sum(s for _, s in near),
        "min_support": int(min_support), "k": int(k),
    }).all()
    movies = _movies(conn, [r.movie_id for r in rows])
    liked_by: dict[int, set[int]] = {}
    if reasons and taste.liked:
        for user, movie in conn.execute(_NEIGHBOUR_LIKES, {"ids": ids, "liked": taste.liked}):
            liked_by.setdefault(user, set()).add(movie)
    titles = _titles(conn, taste.liked) if reasons else {}
    out = []
    for r in rows:
        hit = hit_from_row(movies[r.movie_id], score=float(r.score))
        reason = _knn_reason(list(r.likers), int(r.support), liked_by, titles) if reasons else ""
        out.append(Recommendation(hit=hit, reason=reason, support=int(r.support)))
    return out


def _knn_reason(likers: list[int], support: int, liked_by: dict[int, set[int]], titles: dict[int, str]) -> str:
    shared = Counter(m for u in likers for m in liked_by.get(u, ()))
    common = [titles[m] for m, _ in sorted(shared.items(), key=lambda x: (-x[1], x[0]))[:3] if m in titles]
    if not likers:
        return f"rated by {_people(support)} whose ratings resemble yours"
    if not common:
        return f"liked by {_people(len(likers))} whose ratings resemble yours"
    return f"liked by {_people(len(likers))} whose ratings match yours on " + ", ".join(f"*{t}*" for t in common)


def _people(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} people"


def _items(conn: Connection, taste: Taste, *, k: int) -> list[Recommendation]:
    liked = taste.liked
    if not liked:
        return []
    titles = _titles(conn, liked[:2])
    seeds = " and ".join(f"*{titles[m]}*" for m in liked[:2] if m in titles)
    return [Recommendation(hit=hit, support=co, reason=f"liked by {_people(co)} who also liked {seeds}")
            for hit, co in co_liked(conn, liked, k=k, seen=sorted(taste.seen))]


def _blend(conn: Connection, taste: Taste, *, k: int, neighbours: int, min_support: int, reasons: bool) -> list[Recommendation]:
    depth = 3 * k
    lists = [
        _knn(conn, taste, by="sparse", k=depth, neighbours=neighbours, min_support=min_support, reasons=reasons),
        _knn(conn, taste, by="dense", k=depth, neighbours=neighbours, min_support=min_support, reasons=reasons),
        _items(conn, taste, k=depth),
    ]
    fused: dict[int, float] = {}
    first: dict[int, Recommendation] = {}
    for ranked in lists:
        for rank, rec in enumerate(ranked, 1):
            fused[rec.hit.id] = fused.get(rec.hit.id, 0.0) + 1.0 / (_RRF_K + rank)
            first.setdefault(rec.hit.id, rec)
    best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    return [Recommendation(hit=_rescored(first[i].hit, fused[i]), reason=first[i].reason, support=first[i].support)
            for i in best]


def _rescored(hit: MovieHit, score: float) -> MovieHit:
    from dataclasses import replace

    return replace(hit, score=score, distance=None)


def _movies(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    return {r.id: r for r in conn.execute(_BY_IDS, {"ids": list(ids)})} if ids else {}


def _titles(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(text("SELECT id, title FROM movies WHERE id = ANY(CAST(:ids AS int[]))"), {"ids": list(ids)})
    return {r.id: r.title.replace("*", "") for r in rows}


def recommend_for_person(
    engine: Engine, owner: str | None, liked_ids: Sequence[int] = (), *, k: int = 10,
    method: Method = DEFAULT_METHOD, min_support: int = MIN_SUPPORT,
) -> list[Recommendation]:
    """What the chat's recommendation route calls: the person's stored stars (if `owner` is
    given) plus the films named in the question as liked; `method`, then the item method, then
    the embedding centroid when there are no neighbours or no ratings at all."""
    stars = ratings_of(engine, owner) if owner else {}
    taste = Taste.of(stars | {int(m): 5.0 for m in liked_ids}) if stars else taste_from_likes(liked_ids)
    if not taste.ratings:
        return []
    with engine.connect() as conn:
        recs = recommend_for(conn, taste, method=method, k=k, min_support=min_support)
        if not recs and method != "items":
            recs = _items(conn, taste, k=k)
    if recs:
        return recs
    return [Recommendation(hit=h, reason="close in subject to the films you liked")
            for h in recommend(engine, taste.liked or list(taste.ratings), k=k)]


def recommend_hits(
    engine: Engine, liked_ids: Sequence[int], *, k: int = 10, owner: str | None = None,
) -> list[MovieHit]:
    """The graph's `Deps.recommend`: with no stored stars for `owner` (or no owner) exactly
    `recommend` (the item method the eval questions were derived with); with stars, the person's
    ratings plus the named films go through `recommend_for_person` (user-kNN)."""
    if owner and ratings_of(engine, owner):
        return [r.hit for r in recommend_for_person(engine, owner, liked_ids, k=k)]
    return recommend(engine, liked_ids, k=k)
