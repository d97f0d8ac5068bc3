"""Offline evaluation of the recommenders on the loaded MovieLens ratings (`movie-rag eval --recs`).

Per user, 20 % of their ratings >= 4 (at least one; users with fewer than `MIN_LIKED` such
ratings are not evaluated) are held out with a fixed seed. The rest become a private copy of
`ratings` and `users` in a throw-away schema inside one transaction that is rolled back, so the
catalog is never touched and every method runs through the same SQL as `movie-rag recommend`
(the schema comes first on the search_path; `movies` is the real one). Each method recommends
10 films per user from the training ratings, scored against that user's held-out films.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from retrieval.recommend import METHODS, Method, recommend_for
from retrieval.users import Taste, refresh_users

HOLDOUT = 0.2
LIKED = 4.0
MIN_LIKED = 5
AT = 10
SEED = 42
EVAL_METHODS: tuple[Method, ...] = ("popular", "items", "sparse", "dense", "blend")


@dataclass
class Split:
    train: list[tuple[int, int, float]]
    held: dict[int, set[int]]
    """user -> held-out liked films."""


def split(rows: Sequence[tuple[int, int, float]], *, seed: int = SEED, share: float = HOLDOUT) -> Split:
    """Hold out `share` of each user's ratings >= 4, drawn by a per-user seeded shuffle."""
    by_user: dict[int, list[tuple[int, int, float]]] = {}
    for row in rows:
        by_user.setdefault(int(row[0]), []).append((int(row[0]), int(row[1]), float(row[2])))
    train: list[tuple[int, int, float]] = []
    held: dict[int, set[int]] = {}
    for user in sorted(by_user):
        mine = sorted(by_user[user], key=lambda r: r[1])
        liked = [r[1] for r in mine if r[2] >= LIKED]
        if len(liked) < MIN_LIKED:
            train.extend(mine)
            continue
        random.Random(f"{seed}:{user}").shuffle(liked)
        out = set(liked[: max(1, round(share * len(liked)))])
        held[user] = out
        train.extend(r for r in mine if r[1] not in out)
    return Split(train=train, held=held)


@dataclass
class Scores:
    users: int = 0
    precision: float = 0.0
    recall: float = 0.0
    ndcg: float = 0.0
    hit_users: int = 0
    recommended: set[int] = field(default_factory=set)
    seconds: float = 0.0

    def add(self, recs: Sequence[int], held: set[int]) -> None:
        top = list(recs)[:AT]
        hits = [1 if m in held else 0 for m in top]
        self.users += 1
        self.precision += sum(hits) / AT
        self.recall += sum(hits) / len(held)
        dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(held), AT)))
        self.ndcg += dcg / ideal
        self.hit_users += 1 if any(hits) else 0
        self.recommended.update(top)

    def figures(self, catalogue: int) -> dict[str, float]:
        n = max(self.users, 1)
        return {
            f"precision@{AT}": round(self.precision / n, 4), f"recall@{AT}": round(self.recall / n, 4),
            f"ndcg@{AT}": round(self.ndcg / n, 4),
            "coverage": round(len(self.recommended) / max(catalogue, 1), 4),
            "hit_share": round(self.hit_users / n, 4), "users": self.users,
            "ms_per_user": round(1000 * self.seconds / n, 1),
        }


def evaluate(
    engine: Engine, *, methods: Sequence[Method] = EVAL_METHODS, users: int | None = None, seed: int = SEED,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the offline evaluation; returns the report (see `write`). `users`: the first N
    evaluable users by id (the test suite's fixed subset); None: all of them."""
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}")
    schema = f"recs_eval_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, movie_id, rating FROM ratings ORDER BY user_id, movie_id")).all()
        if not rows:
            raise ValueError("no ratings are loaded; run movie-rag ingest movielens DIR first")
        catalogue = conn.execute(text("SELECT count(*) FROM movies")).scalar_one()
        data = split([tuple(r) for r in rows], seed=seed)  # type: ignore[misc]
        chosen = sorted(data.held)[:users] if users else sorted(data.held)
        try:  # everything below happens in the connection's open transaction, rolled back at the end
            _training_copy(conn, schema, data.train)
            train_by_user: dict[int, dict[int, float]] = {}
            for u, movie, r in data.train:
                train_by_user.setdefault(u, {})[movie] = r
            scores = {m: Scores() for m in methods}
            for i, user in enumerate(chosen, 1):
                taste = Taste.of(train_by_user.get(user, {}), user_id=user)
                for m in methods:
                    started = time.perf_counter()
                    recs = recommend_for(conn, taste, method=m, k=AT, reasons=False)
                    scores[m].seconds += time.perf_counter() - started
                    scores[m].add([r.hit.id for r in recs], data.held[user])
                if progress and i % 50 == 0:
                    progress(f"  {i}/{len(chosen)} users")
        finally:
            conn.rollback()
    figures = {m: s.figures(catalogue) for m, s in scores.items()}
    best = max(figures, key=lambda m: (figures[m][f"ndcg@{AT}"], m))
    return {
        "protocol": {"holdout": HOLDOUT, "liked": LIKED, "min_liked": MIN_LIKED, "seed": seed, "at": AT,
                     "users_evaluated": len(chosen), "ratings": len(rows), "train_ratings": len(data.train),
                     "catalogue": catalogue},
        "methods": figures,
        "best": best,
    }


def _training_copy(conn: Connection, schema: str, train: Sequence[tuple[int, int, float]]) -> None:
    """`ratings` and `users` of the training split in `schema`, first on the search_path."""
    conn.execute(text(f"CREATE SCHEMA {schema}"))
    conn.execute(text(f"CREATE TABLE {schema}.ratings (LIKE public.ratings INCLUDING ALL)"))
    conn.execute(text(f"CREATE TABLE {schema}.users (LIKE public.users INCLUDING ALL)"))
    conn.execute(text("SELECT set_config('search_path', :p, true)"), {"p": f"{schema}, public"})
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY ratings (user_id, movie_id, rating) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in train:
            copy.write_row(row)
    refresh_users(conn)


def markdown(report: dict[str, Any]) -> str:
    p = report["protocol"]
    cols = [f"precision@{AT}", f"recall@{AT}", f"ndcg@{AT}", "coverage", "hit_share", "ms_per_user"]
    lines = [
        "# Recommendations: offline evaluation", "",
        f"{p['users_evaluated']} users, {int(p['holdout'] * 100)} % of each user's ratings >= {p['liked']} held out "
        f"(seed {p['seed']}); {p['train_ratings']} of {p['ratings']} ratings kept for training; "
        f"catalogue {p['catalogue']} films. Best by nDCG@{AT}: **{report['best']}**.", "",
        "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|",
    ]
    for m, f in report["methods"].items():
        lines.append(f"| {m} | " + " | ".join(str(f[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """recs.json, recs.md and recs.png (nDCG / precision / recall per method) in `out`."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "recs.json", out / "recs.md", out / "recs.png"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(report["methods"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.27
    for j, metric in enumerate((f"ndcg@{AT}", f"precision@{AT}", f"recall@{AT}")):
        ax.bar([i + (j - 1) * width for i in range(len(methods))],
               [report["methods"][m][metric] for m in methods], width, label=metric)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_title(f"Recommenders on MovieLens ({report['protocol']['users_evaluated']} users)")
    top = max((f[f"ndcg@{AT}"] for f in report["methods"].values()), default=0.0)
    ax.set_ylim(0, max(top, 0.01) * 1.35)
    ax.legend(loc="upper left", ncols=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[2], dpi=110)
    plt.close(fig)
    return paths
