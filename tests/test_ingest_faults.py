"""Ingest under faults, on the real embedded server: a process killed in the middle of its write
transaction leaves the catalog exactly as it was (and the next ingest is not blocked), and two
ingests of the same file at once write each row once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from test_ingest import SEED, FakeEmbedder, snapshot, write_json, write_movielens

from retrieval.database import make_engine
from retrieval.ingest import ingest_movielens, ingest_movies
from retrieval.schema import create_schema

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]

# The child ingests a MovieLens folder; once its films and ratings are written (inside the one
# transaction, before commit) it says so and waits to be killed.
_CHILD = """
import sys, time
from pathlib import Path
import retrieval.ingest.movielens as ml
from retrieval.database import make_engine
from retrieval.ingest import ingest_movielens

class Fake:
    def embed_documents(self, texts):
        return [[0.5] + [0.0] * 383 for _ in texts]
    def embed_query(self, text):
        return self.embed_documents([text])[0]

real = ml.refresh_users
def refresh_then_hang(conn):
    real(conn)
    print("IN-TRANSACTION", flush=True)
    time.sleep(600)

ml.refresh_users = refresh_then_hang
ingest_movielens(make_engine(sys.argv[1]), Path(sys.argv[2]), Fake())
"""


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False).replace("+psycopg", "")


def _users(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT count(*), md5(coalesce(string_agg(u::text, '|' ORDER BY user_id), '')) FROM users u"
        )).one())


@pytest.fixture
def engine(new_database):
    eng = make_engine(new_database("faults"))
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_ingest_killed_mid_transaction_leaves_catalog_unchanged(sig, engine, tmp_path):
    ingest_movielens(engine, write_movielens(tmp_path / "first"), FakeEmbedder())
    before, users_before = snapshot(engine), _users(engine)
    changed = write_movielens(
        tmp_path / "second",
        movies="movieId,title,genres\n1,\"Matrix, The (1999)\",Action\n4,Heat (1995),Crime\n",
        links="movieId,imdbId,tmdbId\n1,0133093,603\n4,0113277,949\n",
        ratings="userId,movieId,rating,timestamp\n1,1,1.0,1\n5,4,5.0,2\n",
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, _url(engine), str(changed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "IN-TRANSACTION", child.stderr.read() if child.stderr else ""
        child.send_signal(sig)
        assert child.wait(timeout=30) != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert snapshot(engine) == before
    assert _users(engine) == users_before
    # the dead session's lock is gone: the same folder now goes in, in full
    report = ingest_movielens(engine, changed, FakeEmbedder())
    assert (report.inserted, report.ratings) == (1, 2)
    with engine.connect() as conn:
        # films 1 and 4 now have exactly the folder's ratings; film 2 (not in it) keeps its one
        assert conn.execute(text("SELECT count(*) FROM ratings")).scalar_one() == 3
        assert conn.execute(text("SELECT array_agg(user_id ORDER BY user_id) FROM users")).scalar_one() == [1, 5]


def _twice_at_once(engine, ingest, source):
    """Two sessions (two engines, two threads) ingest `source` at the same moment; both reports."""
    other = make_engine(_url(engine))
    barrier = threading.Barrier(2)
    results: list = [None, None]
    errors: list[BaseException] = []

    def run(i, eng):
        barrier.wait()
        try:
            results[i] = ingest(eng, source, FakeEmbedder())
        except BaseException as exc:  # noqa: BLE001  (re-raised below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, e)) for i, e in enumerate((engine, other))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        other.dispose()
    if errors:
        raise errors[0]
    return results


def test_two_concurrent_ingests_of_one_file_write_each_row_once(engine, tmp_path):
    path = write_json(tmp_path / "seed.json", SEED + [{"title": "Alien", "year": 1979, "imdb_id": 78748}])
    a, b = _twice_at_once(engine, ingest_movies, path)
    assert sorted((a.inserted, b.inserted)) == [0, 3]
    assert sorted((a.unchanged, b.unchanged)) == [0, 3]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), count(DISTINCT source_key) FROM movies")).one() == (3, 3)


def test_two_concurrent_movielens_ingests_agree(engine, tmp_path):
    a, b = _twice_at_once(engine, ingest_movielens, write_movielens(tmp_path / "ml"))
    assert sorted((a.inserted, b.inserted)) == [0, 3]
    assert sorted((a.users_changed, b.users_changed)) == [0, 3]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM movies")).scalar_one() == 3
        assert conn.execute(text("SELECT count(*) FROM ratings")).scalar_one() == 4
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 3
