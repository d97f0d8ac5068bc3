"""The scale bench end to end at a tiny size (2,000 rows): every method runs and is written.

Marked `scale` (left out of the default run; `pytest -m scale`): it embeds seed films and builds
five indexes. Figures are not asserted as speeds, only as what the data makes certain."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import COURSE_MOVIES, MOVIELENS_DIR

from eval import bench_scale as bs
from eval import bench_scale_data as data
from eval.bench import BenchContext

pytestmark = [pytest.mark.integration, pytest.mark.scale]

ROWS = 2_000


@pytest.fixture(scope="module")
def entry(pg_server, embedder, tmp_path_factory):
    if not COURSE_MOVIES.exists():
        pytest.skip("the course catalog (../shared/data) is needed for seed vectors")
    ctx = BenchContext(db_url=pg_server, movies_path=COURSE_MOVIES, movielens_dir=MOVIELENS_DIR)
    ctx.cache["embedder"] = embedder
    opts = bs.Options(rows=ROWS, queries=8, fetch_all_queries=2, seed_limit=300, hnsw_grid=((16, 64),),
                      ef_sweep=(10, 200), ivf_probes=(1, 2), bq_candidates=(40, 400), progress=False)
    out = tmp_path_factory.mktemp("scale")
    result = bs.run_size(ctx, pg_server, out, opts)
    return result, bs.write_outputs(out, result)


def test_every_method_is_measured_against_exact(entry):
    result, _ = entry
    methods = result["methods"]
    assert methods["exact"]["recall_at_10"] == 1.0 and methods["exact"]["speedup_vs_fetch_all"] > 0
    assert methods["fetch_all"]["recall_at_10"] >= 0.9  # numpy float32 vs pgvector: near-ties only
    assert methods["fetch_all"]["speedup_vs_fetch_all"] == 1.0
    names = set(methods)
    assert {"hnsw_m16_efc64_ef10", "hnsw_m16_efc64_ef200", "halfvec_m16_efc64_ef200",
            "binary_rerank_cand40", "binary_rerank_cand400", "ivfflat_lists2_probes1",
            "ivfflat_lists2_probes2"} <= names
    for name in names - {"exact", "fetch_all"}:
        assert methods[name]["index_mb"] > 0 and methods[name]["build_s"] > 0
        assert methods[name]["uses_index"] is True, name  # the bench turns sequential scans off
    # probing every IVFFlat list is an exact search
    assert methods["ivfflat_lists2_probes2"]["recall_at_10"] == 1.0
    # a wider HNSW beam never finds fewer true neighbours on this data than ef 10
    assert methods["hnsw_m16_efc64_ef200"]["recall_at_10"] >= methods["hnsw_m16_efc64_ef10"]["recall_at_10"]


def test_the_rows_and_filters_follow_the_seed_films(entry):
    result, _ = entry
    assert result["rows"] == ROWS and result["load"]["rows_per_s"] > 0
    assert result["seeds"]["films"] == 300
    # copies sit as close to their seed as a real film to its nearest neighbour
    assert abs(result["seeds"]["copy_cosine_to_seed"] - result["seeds"]["nearest_neighbour_cosine"]) < 0.05
    broad = [label for label in result["filtered"] if label.endswith("(broad)")]
    assert len(broad) == 1 and len(result["filtered"]) == 3
    for label, runs in result["filtered"].items():
        if label in broad:
            assert 0.25 < runs["share_of_rows"] < 0.6, label
        else:
            assert 0.02 < runs["share_of_rows"] < 0.3, label
        assert runs["exact"]["mean_rows_returned"] == 10.0
        # 2,000 rows is below retrieval.indexing.EXACT_MAX_ROWS: the product scans exactly
        assert runs["product"]["plan"].startswith("exact scan"), label
        assert runs["product"]["recall_at_10"] == 1.0 and runs["product"]["uses_index"] is False
        for ef in bs.FILTER_EFS:
            # iterative scans keep going until k rows pass the filter; without one HNSW stops early
            assert runs[f"hnsw_strict_order_ef{ef}"]["mean_rows_returned"] == 10.0
            assert runs[f"hnsw_relaxed_order_ef{ef}"]["mean_rows_returned"] == 10.0


def test_outputs_are_written(entry):
    result, paths = entry
    doc = json.loads(paths[0].read_text())
    assert doc["sizes"][str(ROWS)]["methods"].keys() == result["methods"].keys()
    md = paths[1].read_text()
    assert "| exact | 1.000 |" in md
    assert "| product: exact scan of ~" in md and "Filtered, recall@10 >= 0.95:" in md
    assert all(p.stat().st_size > 1000 for p in paths[2:]) and len(paths) == 4


def test_genre_and_decade_choice():
    genres = [["Drama"]] * 50 + [["Horror"]] * 10 + [["Comedy", "Drama"]] * 40
    assert data.ten_percent_genre(genres) == ("Horror", 0.10)
    assert data.ten_percent_genre(genres, 0.40) == ("Comedy", 0.40)
    years = [1995] * 12 + [2005] * 80 + [None] * 8
    assert data.year_range(years) == (1990, 1999, pytest.approx(0.12))
    assert bs.recall([[1, 2, 3]], [[1, 2, 4]]) == pytest.approx(2 / 3)
    v = np.eye(3, dtype=np.float32)
    assert data.nearest_neighbour_cosine(np.vstack([v, v[:1]]), sample=4) == pytest.approx(0.5)
