"""Bench section `sqlguard`: how long `check_sql` takes per draft (no database needed).

Every draft of the guard's corpora (tests/sql_corpus: unsafe drafts that must be rejected and
realistic ones that must be accepted) is checked `REPEAT` times; the figures are the p50/p95 of
the per-check milliseconds over all of them.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from eval.bench import BenchContext, Figure, percentiles

SECTION = "sqlguard"
REPEAT = 20
CORPUS_DIR = Path(__file__).resolve().parents[1] / "tests" / "sql_corpus"

# Used when the corpus files are not next to the package (an installed wheel).
FALLBACK_DRAFTS = (
    "SELECT title FROM movies ORDER BY embedding <=> embed('a heist in a casino') LIMIT 5",
    "SELECT title, year FROM movies WHERE year < 1980 ORDER BY year",
    "WITH q AS (SELECT embedding FROM movies WHERE title = 'Heat') SELECT m.title FROM movies AS m, q "
    "WHERE m.title <> 'Heat' ORDER BY m.embedding <=> q.embedding LIMIT 2",
    "SELECT g AS genre, count(*) AS n FROM movies, unnest(genres) AS g GROUP BY g ORDER BY n DESC LIMIT 3",
    "SELECT title FROM movies WHERE embedding @> ANY('Finding Nemo')",
    "SELECT 1; DROP TABLE movies",
    "SELECT * FROM movies",
    "SELECT pg_sleep(60)",
)


def drafts() -> tuple[list[str], list[str]]:
    """(drafts that must be accepted, drafts that must be rejected)."""
    import yaml

    safe_file, unsafe_file = CORPUS_DIR / "safe.yaml", CORPUS_DIR / "unsafe.yaml"
    if not (safe_file.exists() and unsafe_file.exists()):
        return list(FALLBACK_DRAFTS[:4]), list(FALLBACK_DRAFTS[4:])
    safe = [item["sql"] for item in yaml.safe_load(safe_file.read_text())]
    unsafe = [item["sql"] for item in yaml.safe_load(unsafe_file.read_text())]
    return safe, unsafe


def _time_check(sql: str, repeat: int) -> list[float]:
    from retrieval.sqlguard import UnsafeSQL, check_sql

    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with contextlib.suppress(UnsafeSQL):
            check_sql(sql)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def run(ctx: BenchContext) -> list[Figure]:
    safe, unsafe = drafts()
    for sql in safe + unsafe:  # warm-up: imports, dialect and tokenizer tables
        _time_check(sql, 1)
    accepted = [ms for sql in safe for ms in _time_check(sql, REPEAT)]
    rejected = [ms for sql in unsafe for ms in _time_check(sql, REPEAT)]
    p50, p95 = percentiles(accepted + rejected)
    a50, a95 = percentiles(accepted)
    r50, _ = percentiles(rejected)
    n = len(safe) + len(unsafe)
    return [
        Figure(section=SECTION, name=f"check_sql per draft p50 ({n} drafts)", value=p50, unit="ms",
               target="<= 1 ms p50", ok=p50 <= 1.0),
        Figure(section=SECTION, name=f"check_sql per draft p95 ({n} drafts)", value=p95, unit="ms"),
        Figure(section=SECTION, name=f"accepted drafts p50 ({len(safe)})", value=a50, unit="ms"),
        Figure(section=SECTION, name=f"accepted drafts p95 ({len(safe)})", value=a95, unit="ms"),
        Figure(section=SECTION, name=f"rejected drafts p50 ({len(unsafe)})", value=r50, unit="ms"),
    ]
