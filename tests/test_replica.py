"""Reads on a real streaming hot standby of the embedded server (pg_basebackup -R)."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import text

from chatbot.wiring import GuardAdapter
from retrieval.database import embedded_server, make_engine
from retrieval.ingest import ingest_demo
from retrieval.replica import ReadRouter, start_standby, stop_standby
from retrieval.schema import create_schema
from retrieval.search import PgCatalog

pytestmark = pytest.mark.integration


def _wait_for(predicate, timeout_s: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def primary_and_standby(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("replica")
    with embedded_server(root / "primary") as primary_url:
        engine = make_engine(primary_url)
        create_schema(engine)
        ingest_demo(engine, embedder)
        standby_dir = root / "standby"
        standby_url = start_standby(primary_url, standby_dir, port=5497)
        try:
            yield primary_url, standby_url, standby_dir, engine
        finally:
            stop_standby(standby_dir)
            engine.dispose()


def test_reads_land_on_the_standby_and_see_the_primarys_writes(primary_and_standby, embedder):  # type: ignore[no-untyped-def]
    primary_url, standby_url, _, engine = primary_and_standby
    router = ReadRouter(primary_url, standby_url, primary=engine)
    try:
        assert router.standby_answering()
        catalog = PgCatalog(router.engine, embedder)
        with engine.connect() as conn:
            title, year = conn.execute(text("SELECT title, year FROM movies ORDER BY id LIMIT 1")).one()
        assert (title, year) in [(t, y) for _, t, y in catalog.find_titles(f"movies like {title}")]

        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO movies (source_key, title, year, source) "
                "VALUES ('title:Replica Check|2031', 'Replica Check', 2031, 'demo')"
            ))
        lsn = router.write_position()
        # Until the standby has replayed the write, a read that must see it goes to the primary.
        assert _wait_for(lambda: router.engine_after(lsn) is router.engine)
        with router.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
            assert conn.execute(text("SELECT year FROM movies WHERE title = 'Replica Check'")).scalar() == 2031

        guard = GuardAdapter(primary_url, row_cap=10, timeout_ms=2000, router=router)
        rows = guard.run("SELECT pg_is_in_recovery() AS standby, count(*) AS n FROM movies", {})
        assert rows[0]["standby"] is True
    finally:
        router.dispose()


def test_reads_fall_back_to_the_primary_when_the_standby_stops(primary_and_standby, caplog):  # type: ignore[no-untyped-def]
    primary_url, standby_url, standby_dir, engine = primary_and_standby
    router = ReadRouter(primary_url, standby_url, primary=engine, retry_s=60)
    try:
        assert router.standby_answering()
        stop_standby(standby_dir)
        with caplog.at_level(logging.WARNING, logger="retrieval.replica"):
            # The pooled standby connection fails its pre-ping; the new one comes from the primary.
            assert router.standby_answering() is False
            with router.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM movies")).scalar() > 0
            guard = GuardAdapter(primary_url, row_cap=10, timeout_ms=2000, router=router)
            rows = guard.run("SELECT pg_is_in_recovery() AS standby", {})
            assert rows[0]["standby"] is False
        assert any("read standby" in r.getMessage() and "primary" in r.getMessage() for r in caplog.records)
    finally:
        router.dispose()
