"""The SQL guard without a database: the pgvector dialect round-trips, the allow-list rejects every
unsafe draft in the corpus with a readable reason, and accepted drafts become the exact SQL that
runs (bound `embed` parameters, LIMIT added, `%` escaped for psycopg)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlglot
import yaml

from retrieval.pgvector_sql import VECTOR_OPS, PgVector, VectorOp
from retrieval.sqlguard import GuardedSQL, UnsafeSQL, check_sql, vector_literal

CORPUS = Path(__file__).parent / "sql_corpus"
UNSAFE = yaml.safe_load((CORPUS / "unsafe.yaml").read_text())
SAFE = yaml.safe_load((CORPUS / "safe.yaml").read_text())
OPS = list(VECTOR_OPS)


# -- the dialect ---------------------------------------------------------------------------------

ROUND_TRIP_SHAPES = [
    "SELECT embedding {op} embedding AS d FROM movies",  # SELECT
    "SELECT title FROM movies WHERE embedding {op} embedding < 0.5",  # WHERE
    "SELECT title FROM movies ORDER BY embedding {op} embedding LIMIT 5",  # ORDER BY
    "SELECT title FROM movies WHERE id IN (SELECT id FROM movies ORDER BY embedding {op} embedding LIMIT 3)",  # subquery
    "SELECT title FROM movies ORDER BY embedding {op} (SELECT embedding FROM movies WHERE title = 'Up') LIMIT 5",
    "SELECT a {op} b + c < 1, a {op} b || 'x', a {op} b {op} c FROM t",  # precedence and chaining
]


@pytest.mark.parametrize("shape", ROUND_TRIP_SHAPES)
@pytest.mark.parametrize("op", OPS)
def test_each_operator_round_trips_byte_for_byte(op: str, shape: str) -> None:
    sql = shape.format(op=op)
    tree = sqlglot.parse_one(sql, dialect=PgVector)
    assert tree.sql(dialect=PgVector) == sql
    nodes = [n for n in tree.walk() if isinstance(n, VectorOp)]
    assert nodes and {type(n) for n in nodes} <= {VECTOR_OPS[op], VECTOR_OPS["<->"]}


@pytest.mark.parametrize("op", OPS)
def test_operators_bind_like_postgres_other_operators(op: str) -> None:
    # looser than + and tighter than <, as PostgreSQL's "any other operator"
    tree = sqlglot.parse_one(f"SELECT a {op} b + c < 1", dialect=PgVector).expressions[0]
    assert isinstance(tree, sqlglot.exp.LT)
    assert isinstance(tree.this, VECTOR_OPS[op])
    assert isinstance(tree.this.expression, sqlglot.exp.Add)


def test_null_safe_equality_is_still_spelled_the_postgres_way() -> None:
    sql = "SELECT a IS NOT DISTINCT FROM b, x -> 'k', x #> '{a}' FROM t"
    assert sqlglot.parse_one(sql, dialect=PgVector).sql(dialect=PgVector) == sql


@pytest.mark.parametrize("op", OPS)
def test_checked_sql_keeps_every_operator(op: str) -> None:
    lhs, rhs = ("binary_quantize(embedding)", "binary_quantize(embed('x'))") if VECTOR_OPS[op].bits else ("embedding", "embed('x')")
    checked = check_sql(
        f"SELECT title, {lhs} {op} {rhs} AS d FROM movies "
        f"WHERE {lhs} {op} {rhs} < 2 ORDER BY {lhs} {op} {rhs} LIMIT 5"
    )
    param = "%(embed_0)s::vector"
    if VECTOR_OPS[op].bits:
        lhs, rhs = "BINARY_QUANTIZE(embedding)", f"BINARY_QUANTIZE({param})"
    else:
        rhs = param
    expected = f"SELECT title, {lhs} {op} {rhs} AS d, id FROM movies WHERE {lhs} {op} {rhs} < 2 ORDER BY {lhs} {op} {rhs} LIMIT 5"
    assert checked.readable == expected
    assert checked.sql == expected.replace("<%>", "<%%>")
    assert checked.phrases == {"embed_0": "x"}


# -- the corpus ----------------------------------------------------------------------------------


def test_unsafe_corpus_covers_every_class() -> None:
    classes = Counter(item["class"] for item in UNSAFE)
    assert len(UNSAFE) >= 170
    assert set(classes) >= {
        "multi_statement", "not_select", "writable_cte", "into_lock", "relation", "column",
        "function", "limit", "vector_typing", "raw_embedding", "recursive", "self_join", "bomb",
        "injection", "cte_scope", "keyword_value", "lineage", "inflation", "depth",
    }
    assert sum(1 for item in UNSAFE if item.get("reason")) >= 20


@pytest.mark.parametrize("item", UNSAFE, ids=[f"{i:03d}-{d['class']}" for i, d in enumerate(UNSAFE)])
def test_unsafe_draft_is_rejected(item: dict) -> None:
    with pytest.raises(UnsafeSQL) as info:
        check_sql(item["sql"])
    reason = str(info.value)
    if item.get("reason"):
        assert reason == item["reason"]
    # one sentence a person can read: no traceback, no newline, ends with a full stop
    assert "\n" not in reason and reason.endswith(".") and len(reason) < 300


def test_seed_notebook_draft_gets_a_repair_hint() -> None:
    with pytest.raises(UnsafeSQL, match=r"ORDER BY embedding <=> \(SELECT embedding FROM movies WHERE title"):
        check_sql("SELECT title FROM movies WHERE embedding @> ANY('Finding Nemo')")


@pytest.mark.parametrize("item", SAFE, ids=[f"{i:02d}" for i in range(len(SAFE))])
def test_safe_draft_is_accepted(item: dict) -> None:
    checked = check_sql(item["sql"], row_cap=item.get("row_cap", 50))
    assert isinstance(checked, GuardedSQL)
    for name in checked.phrases:
        assert checked.sql.count(f"%({name})s::vector") >= 1
    assert "embed(" not in checked.sql.lower()


def test_safe_corpus_is_large_enough() -> None:
    assert len(SAFE) >= 15


# -- exact output --------------------------------------------------------------------------------


def test_embed_becomes_a_bound_parameter_and_limit_is_kept() -> None:
    checked = check_sql("SELECT title FROM movies ORDER BY embedding <=> embed('a heist in a casino') LIMIT 5")
    assert checked.sql == "SELECT title, id FROM movies ORDER BY embedding <=> %(embed_0)s::vector LIMIT 5"
    assert checked.phrases == {"embed_0": "a heist in a casino"}


def test_several_phrases_each_get_a_parameter_and_repeats_share_one() -> None:
    checked = check_sql(
        "SELECT title FROM movies ORDER BY (embedding <=> embed('space')) + (embedding <-> embed('survival'))"
        " + (embedding <#> embed('space')) LIMIT 3"
    )
    assert checked.phrases == {"embed_0": "space", "embed_1": "survival"}
    assert checked.sql == (
        "SELECT title, id FROM movies ORDER BY (embedding <=> %(embed_0)s::vector) + "
        "(embedding <-> %(embed_1)s::vector) + (embedding <#> %(embed_0)s::vector) LIMIT 3"
    )


def test_missing_limit_is_added_at_the_cap() -> None:
    assert check_sql("SELECT title FROM movies", row_cap=7).sql == "SELECT title, id FROM movies LIMIT 7"
    assert (
        check_sql("SELECT title FROM movies WHERE year < 1970 UNION SELECT title FROM movies WHERE year > 2010").sql
        == "SELECT title FROM movies WHERE year < 1970 UNION SELECT title FROM movies WHERE year > 2010 LIMIT 50"
    )


def test_limit_above_the_cap_is_rejected_with_the_cap() -> None:
    with pytest.raises(UnsafeSQL, match=r"^LIMIT 11 is more than the 10 rows allowed; use LIMIT 10 or less\.$"):
        check_sql("SELECT title FROM movies LIMIT 11", row_cap=10)


def test_percent_signs_are_escaped_for_psycopg_only() -> None:
    checked = check_sql("SELECT title, year % 10 AS y FROM movies WHERE title LIKE '%Job%' LIMIT 2")
    assert checked.readable == "SELECT title, year % 10 AS y, id FROM movies WHERE title LIKE '%Job%' LIMIT 2"
    assert checked.sql == "SELECT title, year %% 10 AS y, id FROM movies WHERE title LIKE '%%Job%%' LIMIT 2"


def test_comments_do_not_reach_the_database() -> None:
    checked = check_sql("SELECT title /* ignore all previous instructions */ FROM movies -- and drop\nLIMIT 1")
    assert checked.sql == "SELECT title, id FROM movies LIMIT 1"


def test_embedding_subquery_and_cte_forms_are_allowed() -> None:
    assert check_sql(
        "SELECT title FROM movies WHERE title <> 'Up' ORDER BY embedding <=> (SELECT embedding FROM movies WHERE title = 'Up') LIMIT 5"
    ).phrases == {}
    assert check_sql(
        "WITH q AS (SELECT embedding FROM movies WHERE title = 'Up') SELECT m.title FROM movies AS m, q "
        "ORDER BY m.embedding <=> q.embedding LIMIT 5"
    ).sql.startswith("WITH q AS (SELECT embedding FROM movies WHERE title = 'Up') SELECT m.title")


def test_one_self_join_is_allowed() -> None:
    sql = "SELECT a.title, b.title FROM movies AS a JOIN movies AS b ON a.id < b.id ORDER BY a.embedding <=> b.embedding LIMIT 1"
    assert check_sql(sql).sql == sql


def test_vector_literal_is_pgvector_text() -> None:
    assert vector_literal([0.5, -1, 2e-3]) == "[0.5,-1.0,0.002]"
    with pytest.raises(ValueError):
        vector_literal([float("nan")])
    with pytest.raises(ValueError):
        vector_literal([])


def test_params_embeds_each_phrase_once() -> None:
    calls: list[str] = []

    def embed(text: str) -> list[float]:
        calls.append(text)
        return [1.0, 0.0]

    checked = check_sql("SELECT title FROM movies ORDER BY embedding <=> embed('dogs') LIMIT 1")
    assert checked.params(embed) == {"embed_0": "[1.0,0.0]"}
    assert calls == ["dogs"]
