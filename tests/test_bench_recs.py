"""Bench section `recs` end to end on a tiny MovieLens-shaped folder and 300 synthetic users.

Marked `scale` like the scale bench's test (left out of the default run; `pytest -m scale`).
Speeds are not asserted, only what the data makes certain: at 300 users every search is the
product's exact scan, so the index serves none and "recall" against exact is 1."""

from __future__ import annotations

import numpy as np
import pytest

from eval import bench_recs
from eval.bench import BenchContext

pytestmark = [pytest.mark.integration, pytest.mark.scale]

USERS = 300


def _folder(folder):  # type: ignore[no-untyped-def]
    """40 films, 25 users with 8-30 ratings each (seeded), MovieLens's CSV headers."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n" + "".join(f"{i},Film {i} ({1980 + i}),Drama|Comedy\n" for i in range(1, 41)),
        encoding="utf-8")
    (folder / "links.csv").write_text(
        "movieId,imdbId,tmdbId\n" + "".join(f"{i},{9000 + i},\n" for i in range(1, 41)), encoding="utf-8")
    lines = []
    for user in range(1, 26):
        for movie in sorted(rng.choice(np.arange(1, 41), size=int(rng.integers(8, 31)), replace=False)):
            lines.append(f"{user},{movie},{rng.integers(1, 11) / 2:.1f},{1000 + user}\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def figures(pg_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    ctx = BenchContext(db_url=pg_server, movies_path=None, movielens_dir=_folder(tmp_path_factory.mktemp("ml")),
                       users=USERS)
    return {f.name: f for f in bench_recs.run(ctx)}


def test_every_figure_is_reported_for_the_synthetic_users(figures):  # type: ignore[no-untyped-def]
    n = USERS
    for name in (f"nearest 50 of {n} synthetic users, exact scan p50",
                 f"nearest 50 of {n} synthetic users, HNSW + exact heavy p95",
                 f"recommend 10 among {n} synthetic users, exact scan p50",
                 f"recommend 10 among {n} synthetic users, HNSW p50",
                 f"HNSW build, {n} synthetic users", f"HNSW size, {n} synthetic users",
                 "nearest 50 users, ml-latest-small (sparse) p50", "recommend 10, ml-latest-small (sparse, reasons) p50"):
        assert figures[name].value > 0, name
    # users take the rating counts of real ones (8-30 here), minus draws of a film they already had
    assert 1 <= figures["synthetic users: mean ratings per user"].value <= 30
    assert figures["synthetic users above the HNSW limit (1000 non-zeros)"].value == 0


def test_at_a_small_size_the_product_scans_exactly(figures):  # type: ignore[no-untyped-def]
    # 300 users is far below retrieval.indexing.EXACT_MAX_ROWS: the index exists but the plan
    # keeps index scans off, so both runs are the same exact answer.
    assert figures["synthetic users: searches the HNSW index served"].value == 0
    recall = [f for name, f in figures.items() if name.startswith(f"nearest 50 of {USERS} synthetic users: HNSW recall")]
    assert len(recall) == 1 and recall[0].value == 1.0 and "exact scan" in recall[0].name
