"""A "similar" people agree with: content similarity blended with genre overlap and, when
MovieLens ratings are loaded, the collaborative signal.

For an anchor film `a` and every other film `j`:

    content(j) = mean over the blend's profiles of cos(a, j)          (each profile's own vectors)
    genre(j)   = |genres(a) & genres(j)| / |genres(a) | genres(j)|    (Jaccard; 0 when either has none)
    co(j)      = |likers(a) & likers(j)| / sqrt(|likers(a)| * |likers(j)|)   (liked = rated >= 4;
                 the cosine of recommend.py; 0 without ratings)
                 * n / (n + shrink), n = |likers(a) & likers(j)|   (shrinkage: a cosine that rests
                 on two or three people is mostly noise, one that rests on fifty is not)
    blend(j)   = w_content * content + w_genre * genre + w_co * co

The weights in `DEFAULT_WEIGHTS` were chosen on data by `eval/similarity.py` (`movie-rag eval
--similarity`): a grid search on the tuning half of the benchmark's anchors, users split in two so
the co-liking reference never comes from the users the blend's collaborative part sees; the report
shows the figures on the other half. Vectors are read into memory once per process (a catalog of
10,000 films is 15 MB per 384-d profile), so the blend is plain numpy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from retrieval.profiles import Profile, get_profile
from retrieval.types import Metric, MovieHit


@dataclass(frozen=True)
class Weights:
    content: float
    genre: float
    co: float
    shrink: float = 0.0
    """Co-liking is scaled by n / (n + shrink), n = people who liked both films (0: no shrinkage)."""

    def to_json(self) -> dict[str, float]:
        return {"content": self.content, "genre": self.genre, "co": self.co, "shrink": self.shrink}


DEFAULT_WEIGHTS = Weights(content=1.0, genre=0.0, co=0.8, shrink=20.0)
"""Chosen by `movie-rag eval --similarity` on the course catalog + ml-latest-small (9,742 films,
100,836 ratings; report in eval/similarity/): the tuning anchors' best weights that beat every
profile's cosine ranking on franchise recall and co-liking and keep minilm/cosine's genre
agreement (profiles minilm, mpnet and wordllama embedded). On the test anchors: franchise recall
0.887 (best single profile: minilm/cosine 0.881, mpnet/cosine 0.878), co-liking agreement 0.210
(best single: mpnet/cosine 0.075), genre Jaccard 0.667 (minilm/cosine 0.666).
Without shrinkage, a co-liking weight above 0.1 costs franchise recall (on the tuning anchors:
0.4 -> 0.792, 0.8 -> 0.651, against 0.871 for content alone): cosines resting on a handful of
people pull in films that share nothing else; with shrink 20, weight 0.8 keeps 0.874 and reaches
co-liking 0.187. More genre weight, or wordllama in the content, trades series for genre
agreement (wordllama/cosine: 0.687 franchise recall, 0.796 genre Jaccard)."""
DEFAULT_BLEND_PROFILES = ("minilm",)
LIKED = 4.0


class Vectors:
    """One profile's vectors, L2-normalized, rows aligned with `ids`."""

    def __init__(self, ids: np.ndarray, matrix: np.ndarray, dim: int):
        self.ids, self.matrix, self.dim = ids, matrix, dim
        self.row = {int(i): n for n, i in enumerate(ids)}
        self.bits = matrix > 0
        self.norms = np.linalg.norm(matrix, axis=1)

    @classmethod
    def load(cls, engine: Engine, profile: Profile) -> Vectors:
        from pgvector.sqlalchemy import VECTOR
        from sqlalchemy import Integer, column

        if profile.default:
            sql = "SELECT id, embedding FROM movies WHERE embedding IS NOT NULL ORDER BY id"
        else:
            sql = f"SELECT movie_id AS id, embedding FROM {profile.table} ORDER BY movie_id"
        typed = text(sql).columns(column("id", Integer), column("embedding", VECTOR(profile.dim)))
        with engine.connect() as conn:
            rows = conn.execute(typed).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = np.array([np.asarray(r[1], dtype=np.float32) for r in rows], dtype=np.float32)
        if not len(rows):
            matrix = np.zeros((0, profile.dim), dtype=np.float32)
        return cls(ids, matrix, profile.dim)

    def scores(self, anchor: int, metric: Metric) -> np.ndarray:
        """Scores (higher = more similar, as retrieval/search.py defines them) of every row
        against row id `anchor`; the anchor's own row included."""
        a = self.matrix[self.row[anchor]]
        m = self.matrix
        if metric in ("cosine", "inner"):
            norms = self.norms * self.norms[self.row[anchor]]
            dots = m @ a
            return dots if metric == "inner" else dots / np.maximum(norms, 1e-12)
        if metric == "l2":
            return 1.0 / (1.0 + np.linalg.norm(m - a, axis=1))
        if metric == "l1":
            return 1.0 / (1.0 + np.abs(m - a).sum(axis=1))
        b = self.bits[self.row[anchor]]
        differ = (self.bits != b).sum(axis=1)
        if metric == "hamming":
            return 1.0 - differ / self.dim
        both = (self.bits & b).sum(axis=1)
        either = (self.bits | b).sum(axis=1)
        return np.where(either > 0, both / np.maximum(either, 1), 1.0)


class Likes:
    """Who liked what (rating >= 4), as a sparse users x movies matrix; optionally one half of
    the users (user_id parity) so a benchmark can keep the other half as its reference."""

    def __init__(self, engine: Engine, ids: np.ndarray, *, half: int | None = None):
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT user_id, movie_id FROM ratings WHERE rating >= :r"), {"r": LIKED}
            ).all()
        self._fill([(u, m) for u, m in rows if half is None or u % 2 == half], ids)

    def _fill(self, liked: Sequence[tuple[int, int]], ids: np.ndarray) -> None:
        from scipy.sparse import csc_matrix

        col = {int(i): n for n, i in enumerate(ids)}
        pairs = [(u, col[m]) for u, m in liked if m in col]
        users = sorted({u for u, _ in pairs})
        row = {u: n for n, u in enumerate(users)}
        data = np.ones(len(pairs), dtype=np.float32)
        self.matrix = csc_matrix(
            (data, ([row[u] for u, _ in pairs], [c for _, c in pairs])), shape=(len(users), len(ids))
        )
        self.likers = np.asarray(self.matrix.sum(axis=0)).ravel()
        self.col = col

    @property
    def empty(self) -> bool:
        return self.matrix.nnz == 0

    def co(self, anchor: int, shrink: float = 0.0) -> np.ndarray:
        """co-liking cosine of every film with `anchor` (0 where nobody liked either), scaled by
        n / (n + shrink) where n is how many people liked both."""
        c = self.col[anchor]
        if self.likers[c] == 0:
            return np.zeros(len(self.likers))
        together = self.co_counts(anchor)
        cosine = together / np.sqrt(np.maximum(self.likers * self.likers[c], 1.0))
        return cosine * (together / (together + shrink)) if shrink else cosine

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[int, int]], ids: np.ndarray) -> Likes:
        """Likes from (user_id, movie_id) pairs, without a database (tests, notebooks)."""
        likes = cls.__new__(cls)
        likes._fill(pairs, ids)
        return likes

    def co_counts(self, anchor: int) -> np.ndarray:
        c = self.col[anchor]
        return np.asarray((self.matrix.T @ self.matrix[:, c]).todense()).ravel()


class Blend:
    """Everything the blend reads, loaded once: ids, genres, each profile's vectors, the likes."""

    def __init__(self, engine: Engine, profiles: Sequence[str] = DEFAULT_BLEND_PROFILES, *,
                 likes_half: int | None = None):
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, genres FROM movies ORDER BY id")).all()
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.col = {int(i): n for n, i in enumerate(self.ids)}
        self.genres = [frozenset(g.lower() for g in (r[1] or ())) for r in rows]
        names = sorted(set().union(*self.genres)) if self.genres else []
        position = {g: n for n, g in enumerate(names)}
        self.genre_matrix = np.zeros((len(rows), len(names)), dtype=np.float32)
        for n, gs in enumerate(self.genres):
            self.genre_matrix[n, [position[g] for g in gs]] = 1.0
        self.genre_count = self.genre_matrix.sum(axis=1)
        self.vectors = {name: Vectors.load(engine, get_profile(name)) for name in profiles}
        self._columns = {name: np.array([self.col[int(i)] for i in v.ids], dtype=np.int64)
                         for name, v in self.vectors.items()}
        self.likes = Likes(engine, self.ids, half=likes_half)

    def content(self, anchor: int, metric: Metric = "cosine") -> np.ndarray:
        """Mean profile score per catalog row (rows a profile lacks count as its minimum)."""
        total = np.zeros(len(self.ids))
        for name, vec in self.vectors.items():
            full = np.full(len(self.ids), np.nan)
            if anchor in vec.row:
                full[self._columns[name]] = vec.scores(anchor, metric)
            total += np.nan_to_num(full, nan=np.nanmin(full) if np.isfinite(full).any() else 0.0)
        return total / max(1, len(self.vectors))

    def genre(self, anchor: int) -> np.ndarray:
        n = self.col[anchor]
        if not self.genre_count[n]:
            return np.zeros(len(self.ids))
        both = self.genre_matrix @ self.genre_matrix[n]
        either = self.genre_count + self.genre_count[n] - both
        return np.where(self.genre_count > 0, both / np.maximum(either, 1.0), 0.0)

    def scores(self, anchor: int, weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
        s = weights.content * self.content(anchor) + weights.genre * self.genre(anchor)
        if weights.co and not self.likes.empty:
            s = s + weights.co * self.likes.co(anchor, weights.shrink)
        return s

    def top(self, scores: np.ndarray, anchor: int, k: int) -> list[int]:
        """Ids of the k best rows, the anchor left out; ties by id."""
        return top_ids(self.ids, scores, anchor, k)


def top_ids(ids: np.ndarray, scores: np.ndarray, anchor: int, k: int) -> list[int]:
    """The k ids with the highest scores, `anchor` left out; ties broken by the smaller id."""
    if len(ids) > 4 * (k + 1):
        # everything tied with the (k+1)-th best joins the candidates, so ties stay by id
        cut = np.partition(scores, len(scores) - (k + 1))[len(scores) - (k + 1)]
        keep = np.flatnonzero(scores >= cut)
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))
    return [int(ids[n]) for n in order if int(ids[n]) != anchor][:k]


_CACHE: dict[tuple[int, tuple[str, ...]], tuple[Blend, tuple[int, ...], float]] = {}
"""(engine, profiles) -> the loaded blend, the catalog's signature then, when it was last checked."""
_LOCK = threading.Lock()
RECHECK_S = 60.0
"""How often a cached blend checks whether the catalog changed (films or ratings added)."""
_SIGNATURE = text("SELECT (SELECT count(*) FROM movies), (SELECT coalesce(max(id), 0) FROM movies), "
                  "(SELECT count(*) FROM ratings)")


def _signature(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(v) for v in conn.execute(_SIGNATURE).one())


def blended_similar(
    engine: Engine, anchor: int, *, k: int = 10, weights: Weights = DEFAULT_WEIGHTS,
    profiles: Sequence[str] = DEFAULT_BLEND_PROFILES, fresh: bool = False,
) -> list[MovieHit]:
    """The k films nearest `anchor` by the blend; `score` is the blend score, `distance` None."""
    from retrieval.search import MOVIE_COLUMNS, hit_from_row

    key = (id(engine), tuple(profiles))
    with _LOCK:
        cached = _CACHE.get(key)
        now = time.monotonic()
        if fresh or cached is None or now - cached[2] > RECHECK_S:
            signature = _signature(engine)
            if fresh or cached is None or signature != cached[1]:  # another ingest: load it again
                cached = (Blend(engine, profiles), signature, now)
            _CACHE[key] = cached = (cached[0], signature, now)
        blend = cached[0]
    if anchor not in blend.col:
        return []
    scores = blend.scores(anchor, weights)
    ids = blend.top(scores, anchor, k)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(
            text(f"SELECT {MOVIE_COLUMNS} FROM movies m WHERE m.id = ANY(:ids)"), {"ids": ids})}
    return [hit_from_row(rows[i], score=float(scores[blend.col[i]])) for i in ids if i in rows]


def describe(weights: Weights = DEFAULT_WEIGHTS) -> dict[str, Any]:
    return {"weights": weights.to_json(), "profiles": list(DEFAULT_BLEND_PROFILES), "liked_rating": LIKED}
