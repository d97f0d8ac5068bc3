"""The offline recommendation eval as a gate: ml-latest-small ingested (films embedded by a fake,
so the dense method is left out here), a fixed subset of users, the hold-out protocol checked,
sparse user-kNN ahead of most-popular on nDCG@10, and the catalog untouched afterwards."""

from __future__ import annotations

import json
import math

import pytest
from conftest import MOVIELENS_DIR
from sqlalchemy import text
from test_ingest import FakeEmbedder, snapshot

from eval import recs
from retrieval.database import make_engine
from retrieval.ingest import ingest_movielens
from retrieval.schema import create_schema

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (MOVIELENS_DIR / "ratings.csv").exists(), reason=f"{MOVIELENS_DIR} is absent"),
]

GATE_USERS = 60


@pytest.fixture(scope="module")
def ml(new_database):
    url = new_database("recs")
    engine = make_engine(url)
    create_schema(engine)
    ingest_movielens(engine, MOVIELENS_DIR, FakeEmbedder())
    yield url, engine
    engine.dispose()


def test_split_holds_out_a_fifth_of_each_users_liked_films_reproducibly():
    rows = [(u, m, 4.5 if m % 3 else 2.0) for u in (1, 2) for m in range(1, 31)] + [(3, 1, 5.0), (3, 2, 4.0)]
    a, b = recs.split(rows, seed=7), recs.split(rows, seed=7)
    assert a.held == b.held and a.train == b.train
    assert sorted(a.held) == [1, 2]  # user 3 has 2 liked films, fewer than MIN_LIKED: not evaluated
    for user in (1, 2):
        liked = {m for m in range(1, 31) if m % 3}
        assert len(a.held[user]) == round(0.2 * len(liked)) == 4 and a.held[user] <= liked
        assert not {m for u, m, _ in a.train if u == user} & a.held[user]
    assert len(a.train) == len(rows) - 8
    assert recs.split(rows, seed=8).held != a.held


def test_scores_by_hand():
    s = recs.Scores()
    s.add([5, 1, 9, 2, 7, 8, 10, 11, 12, 13], {1, 2, 3})
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    ideal = sum(1 / math.log2(i + 2) for i in range(3))
    f = s.figures(catalogue=100)
    assert (f["precision@10"], f["recall@10"], f["hit_share"], f["coverage"]) == (0.2, round(2 / 3, 4), 1.0, 0.1)
    assert f["ndcg@10"] == round(dcg / ideal, 4)


def test_gate_sparse_knn_beats_most_popular_and_leaves_the_catalog_alone(ml):
    _, engine = ml
    before = snapshot(engine)
    with engine.connect() as conn:
        users_before = conn.execute(text("SELECT md5(string_agg(u::text, '|' ORDER BY user_id)) FROM users u")).scalar_one()
    report = recs.evaluate(engine, methods=("popular", "items", "sparse"), users=GATE_USERS)
    m = report["methods"]
    assert report["protocol"]["users_evaluated"] == GATE_USERS
    assert report["protocol"]["ratings"] == 100836 and report["protocol"]["train_ratings"] < 100836
    assert all(f["users"] == GATE_USERS for f in m.values())
    assert m["sparse"]["ndcg@10"] > m["popular"]["ndcg@10"]
    assert m["sparse"]["coverage"] > m["popular"]["coverage"]
    assert snapshot(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT md5(string_agg(u::text, '|' ORDER BY user_id)) FROM users u")).scalar_one() == users_before
        assert conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'recs_eval_%'")).scalar_one() == 0


def test_cli_eval_recs_writes_json_markdown_and_chart(ml, monkeypatch, tmp_path, capsys):
    from chatbot.cli import main

    url, _ = ml
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MOVIE_RAG_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert main(["eval", "--recs", "--recs-users", "5", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "recs.json").read_text())
    assert printed == saved and set(saved["methods"]) == {"popular", "items", "sparse", "dense", "blend"}
    assert saved["best"] in saved["methods"]
    assert (out / "recs.md").read_text().startswith("# Recommendations: offline evaluation")
    assert (out / "recs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
