"""The one helper that starts and stops an embedded server around a block (the test session's
server and the benchmarks' throw-away one): stopped on the way out, even when the body fails.
(The given-folder form runs every integration test: tests/conftest.py's session server.)"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from retrieval.database import embedded_server, embedded_status

pytestmark = pytest.mark.integration


def test_throw_away_server_is_stopped_and_removed_even_after_an_error() -> None:
    seen: dict[str, object] = {}
    with pytest.raises(RuntimeError, match="body failed"), embedded_server() as url:
        with psycopg.connect(url) as conn:
            seen["one"] = conn.execute("SELECT 1").fetchone()
        seen["pgdata"] = embedded_status_of(url)
        raise RuntimeError("body failed")
    assert seen["one"] == (1,)
    pgdata = seen["pgdata"]
    assert isinstance(pgdata, Path)
    assert not pgdata.exists(), "the temporary data folder is removed"


def embedded_status_of(url: str) -> Path:
    """The data folder of the running server behind `url` (asked of the server itself)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    pgdata = Path(row[0])
    assert embedded_status(pgdata).running
    return pgdata
