"""Query plans compiled to parameterised SQL over the whole `movies` table, and run read-only.

`compile_plan(plan)` turns a `retrieval.plan.QueryPlan` into one SQL statement with named bound
parameters (values never reach the text): the WHERE holds every filter, the ORDER BY the sort key
(NULLS LAST, id breaking ties) or the embedding distance, and sets carry their exact size in a
count over the same WHERE (`count_sql`), run only when the rows reached the limit or `cap`, so an
answer can say "15 films match" even when the rows were cut. (Fewer rows than the bound are the
whole set; `count(*) OVER ()` would materialise every matching row on every question and keep an
index from serving ORDER BY ... LIMIT.)

    list         every matching row (up to `cap`), ordered by the sort key, else by closeness to
                 the phrase, else in the previous answer's order (a follow-up), else year, title
    fact         the anchors' rows (in the order named), narrowed by any filters; with no anchors
                 but a phrase, the rows nearest to it ("who directed the one about the shark?")
    count        SELECT count(*)
    superlative  rows with the sort key set, first `limit` (default 1) with ties kept; with a
                 `rank`, the rows holding the rank-th distinct value; with only a phrase, among
                 the SEMANTIC_POOL rows nearest to it
    search       nearest to the query vector among the filtered rows (k of them)
    similar      nearest to the mean embedding of the anchors, anchors excluded (k of them)
    recommend    as similar with anchors, as search with a vector, else the best rated
    aggregate    with a `group`: one row per group (name, films, value), ordered by the value (or
                 by year/decade), the first `top` with ties kept; with its `pick`, each group's
                 top films instead; other aggregates and chitchat are not compiled (PlanError)

Names (genres, people, countries, languages) compare whole values folded by the database's
`movie_rag_fold*` functions (retrieval/schema.py), served by GIN expression indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from retrieval.indexing import VectorPlan, plan_search, planned
from retrieval.plan import Filters, Group, GroupKey, Names, QueryPlan, Range, SortKey, Vocabulary
from retrieval.profiles import Profile, get_profile
from retrieval.schema import EMBEDDING_DIM, PLAN_NAME_EXPRESSIONS
from retrieval.types import Metric, MovieHit

PLAN_ROW_CAP = 500
"""Most rows a set question returns; the answer states the exact total when it is hit."""
SEARCH_K = 10
"""Rows a ranked question (search, similar, recommend) returns when the plan gives no limit."""
SUPERLATIVE_LIMIT = 1
SEMANTIC_POOL = 25
"""A sorted question with only a phrase ("the longest film about space") sorts this many nearest."""

PLAN_COLUMNS = (
    "id", "title", "year", "genres", "director", "actors", "summary", "duration_min",
    "avg_rating", "num_ratings", "poster_url", "country", "language", "writers",
)
"""What every row carries: the MovieHit.full() fields plus language and writers."""

_SELECT = ", ".join(f"m.{c}" for c in PLAN_COLUMNS)

# pgvector operator per metric; the bit metrics compare binary_quantize()d vectors.
_OPERATORS: Mapping[str, str] = {
    "cosine": "<=>", "l2": "<->", "inner": "<#>", "l1": "<+>", "hamming": "<~>", "jaccard": "<%>",
}
_SORT_SQL: Mapping[str, str] = {
    "title": "lower({t}.title)", "year": "{t}.year", "duration_min": "{t}.duration_min",
    "avg_rating": "{t}.avg_rating", "num_ratings": "{t}.num_ratings",
}
_INT_COLUMNS = frozenset({"year", "duration_min", "num_ratings"})
_RANGE_FIELDS = ("year", "duration_min", "avg_rating", "num_ratings")
_NAME_FIELDS = ("genres", "directors", "actors", "writers", "people", "countries", "languages")
_DEFAULT_ORDER = "m.year NULLS LAST, lower(m.title), m.id"


class PlanError(ValueError):
    """The plan cannot be compiled (a message a person can read says why)."""


@dataclass(frozen=True, kw_only=True)
class CompiledQuery:
    """One statement with named parameters (`:name`), and what its rows mean."""

    sql: str
    params: dict[str, Any]
    kind: Literal["rows", "count", "groups"]
    """`count`: one row, `total`; `rows`: movie rows (with `distance` when ordered by one);
    `groups`: one row per group (`name`, `films`, `value`, and its films' `ids`)."""
    ranked: bool = False
    """Rows are the nearest by embedding distance, not an exact set (say "closest matches")."""
    metric: Metric | None = None
    """The distance metric of a ranked or semantically ordered query."""
    cap: int = PLAN_ROW_CAP
    bound: int = PLAN_ROW_CAP
    """Rows the statement returns at most before ties; fewer rows than this are the whole set."""
    count_sql: str | None = None
    """`SELECT count(*)` over the same WHERE (same parameters), for `total` when rows hit `bound`
    (None for ranked rows: how many candidates there were is not what was asked)."""
    phrases: dict[str, str] = field(default_factory=dict)
    """Vector parameter -> the phrase it embeds (shown as `embed('...')` in the readable SQL)."""
    notes: tuple[str, ...] = ()
    """What the compiler could not apply, in words an answer can repeat."""
    vector_k: int | None = None
    """Rows a k-nearest ordering must produce when ORDER BY starts with the distance (None: no
    nearest-neighbour part; any distance only orders a set already selected)."""
    vector_where: str = ""
    """The WHERE of that k-nearest part (for `retrieval.indexing.plan_search`'s estimate)."""
    vector_plan: VectorPlan | None = None
    """How the k-nearest part runs (its SET LOCALs are applied by `run_compiled`); None: the
    exact shape with nothing set (a caller compiling without a connection)."""
    vectors: Vectors = field(default_factory=lambda: vectors_of(None))
    """Whose embeddings the distances use (the default profile's `movies.embedding`, or a
    profile's table)."""

    @property
    def has_vector(self) -> bool:
        return "qvec" in self.params

    def statement(self) -> TextClause:
        return _statement(self.sql, self.vectors.dim if self.has_vector else None)

    def readable(self) -> str:
        """The SQL with values written in, for people ("How I found this"); never run."""
        return readable_sql(self.sql, self.params, self.phrases)

    def count_params(self) -> dict[str, Any]:
        """The parameters `count_sql` uses (a subset of `params`)."""
        used = set(_PARAM.findall(self.count_sql or ""))
        return {k: v for k, v in self.params.items() if k in used}


@lru_cache(maxsize=512)
def _statement(sql: str, vector_dim: int | None) -> TextClause:
    clause = text(sql)
    if vector_dim is not None:
        clause = clause.bindparams(bindparam("qvec", type_=VECTOR(vector_dim)))
    return clause


@dataclass(frozen=True)
class Vectors:
    """Where one embedding profile's vectors are, as SQL over the plan's `movies m`: the default
    profile's in `m.embedding`; another's in its own table (retrieval/profiles_store.py), LEFT
    JOINed as `v` so that a set ordered by a phrase keeps the films that table has no vector for."""

    join: str
    vec: str
    bits: str
    anchor_mean: str
    """The mean vector of the `:anchors` rows."""
    dim: int
    table: str

    def distance(self, metric: Metric, target: str) -> str:
        """Row `m`'s distance to `target` (a vector expression); bit metrics compare the
        binary-quantized vectors."""
        if metric not in _OPERATORS:
            raise PlanError(f"Unknown metric {metric!r}; use one of {', '.join(_OPERATORS)}.")
        op = _OPERATORS[metric]
        if metric in ("hamming", "jaccard"):
            return f"{self.bits} {op} binary_quantize({target})::bit({self.dim})"
        return f"{self.vec} {op} {target}"


def as_profile(profile: Profile | str | None) -> Profile:
    return profile if isinstance(profile, Profile) else get_profile(profile)


def vectors_of(profile: Profile | str | None) -> Vectors:
    """The SQL for `profile`'s vectors (None or the default: `movies.embedding`)."""
    p = as_profile(profile)
    anchors = "ANY(CAST(:anchors AS int[]))"
    if p.default:
        return Vectors(join="", vec="m.embedding", bits=f"binary_quantize(m.embedding)::bit({EMBEDDING_DIM})",
                       anchor_mean=f"(SELECT avg(a.embedding) FROM movies a WHERE a.id = {anchors})",
                       dim=EMBEDDING_DIM, table="movies")
    t = p.table
    return Vectors(join=f" LEFT JOIN {t} v ON v.movie_id = m.id", vec="v.embedding", bits="v.bits",
                   anchor_mean=f"(SELECT avg(a.embedding) FROM {t} a WHERE a.movie_id = {anchors})",
                   dim=p.dim, table=t)


# --- WHERE ------------------------------------------------------------------------------------


class _Params:
    """Collects bound parameters under deterministic names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> str:
        assert name not in self.values, name
        self.values[name] = value
        return f":{name}"


def _bound(column: str, value: float) -> int | float:
    return int(value) if column in _INT_COLUMNS and float(value).is_integer() else float(value)


def _range(column: str, r: Range, prefix: str, p: _Params) -> list[str]:
    out = []
    if r.min is not None:
        op = ">" if r.min_open else ">="
        out.append(f"m.{column} {op} {p.add(f'{prefix}{column}_min', _bound(column, r.min))}")
    if r.max is not None:
        op = "<" if r.max_open else "<="
        out.append(f"m.{column} {op} {p.add(f'{prefix}{column}_max', _bound(column, r.max))}")
    return out


def _names(name: str, n: Names, prefix: str, p: _Params) -> list[str]:
    expr = PLAN_NAME_EXPRESSIONS[name].format(m="m.")
    out = []
    for part, op, negate in (("all", "@>", False), ("any", "&&", False), ("none", "&&", True)):
        values = getattr(n, f"{part}_of")
        if not values:
            continue
        param = p.add(f"{prefix}{name}_{part}", [str(v) for v in values])
        cond = f"{expr} {op} movie_rag_fold_array(CAST({param} AS text[]))"
        # "not from the USA" holds for a film whose countries are known and exclude it, never for
        # one that records none (most MovieLens rows): an unknown value meets no condition
        out.append(f"(cardinality({expr}) > 0 AND NOT ({cond}))" if negate else cond)
    return out


def _conditions(f: Filters, prefix: str, p: _Params) -> list[str]:
    """Every condition of `f` (ANDed by the caller); parameters named `{prefix}{field}_...`."""
    out: list[str] = []
    if f.title is not None and f.title.strip():
        out.append(f"movie_rag_fold(m.title) LIKE movie_rag_contains({p.add(f'{prefix}title', f.title)})")
    for column in _RANGE_FIELDS:
        out += _range(column, getattr(f, column), prefix, p)
    for name in _NAME_FIELDS:
        out += _names(name, getattr(f, name), prefix, p)
    if f.exclude_ids:
        ids = p.add(f"{prefix}exclude_ids", [int(i) for i in f.exclude_ids])
        out.append(f"m.id <> ALL(CAST({ids} AS int[]))")
    if f.either:
        groups = []
        for i, group in enumerate(f.either):
            inner = _conditions(group, f"{prefix}or{i}_", p)
            groups.append("(" + " AND ".join(inner) + ")" if len(inner) > 1 else (inner[0] if inner else "TRUE"))
        out.append("(" + " OR ".join(groups) + ")")
    return out


# --- ORDER BY and distance --------------------------------------------------------------------


def _sort_expr(key: SortKey, table: str = "m") -> str:
    return _SORT_SQL[key].format(t=table)


def _order(key: SortKey, desc: bool, table: str = "m") -> str:
    return f"{_sort_expr(key, table)}{' DESC' if desc else ''} NULLS LAST"


_ALIAS_M = re.compile(r"\bm\.")


def _where(conditions: list[str]) -> str:
    return "\nWHERE " + "\n  AND ".join(conditions) if conditions else ""


def _count_sql(conditions: list[str]) -> str:
    return f"SELECT count(*) AS total\nFROM movies m{_where(conditions)}"


# --- the compiler -----------------------------------------------------------------------------


def compile_plan(
    plan: QueryPlan, *, ids: Sequence[int] | None = None, vector: Sequence[float] | None = None,
    metric: Metric = "cosine", cap: int = PLAN_ROW_CAP, k: int = SEARCH_K,
    vector_plan: VectorPlan | None = None, profile: Profile | str | None = None,
) -> CompiledQuery:
    """The SQL for `plan`.

    `ids`: the previous turn's full result ids (a follow-up's scope; required when
    `plan.scope == "previous"`, applied whenever given). `vector`: the embedded `plan.semantic`
    (ranks search rows and orders list rows by distance; without it the phrase is not applied and
    a note says so). `cap`: most rows returned. `k`: rows of a ranked question without a limit.
    `vector_plan`: how a k-nearest part runs (`retrieval.indexing`; `run_plan` chooses it on the
    connection); HNSW drops the id tie-break so the index can serve ORDER BY distance.
    `profile`: whose vectors rank and order by distance (retrieval/profiles.py; None: the
    default's `movies.embedding`); `vector` is then that profile's embedding of the phrase.
    """
    vs = vectors_of(profile)
    tail = ", m.id" if vector_plan is None else vector_plan.order_tail()
    if plan.intent == "chitchat" or (plan.intent == "aggregate" and plan.group is None):
        raise PlanError(f"A {plan.intent} question has no query plan to compile; it goes another way.")
    if cap < 1:
        raise PlanError(f"cap must be at least 1, not {cap}.")
    p = _Params()
    notes: list[str] = []
    conditions = _conditions(plan.filters, "", p)
    if ids is not None:
        conditions.append(f"m.id = ANY(CAST({p.add('ids', [int(i) for i in ids])} AS int[]))")
    elif plan.scope == "previous":
        raise PlanError("A follow-up plan needs the previous answer's ids; there are none to narrow.")
    # What narrows the rows (not the anchors or the NOT NULLs): what a vector plan estimates.
    filters_where = " AND ".join(conditions)

    intent = plan.intent
    if plan.group is not None:
        if plan.semantic:
            notes.append(f"the figures do not apply {plan.semantic!r} (a meaning, not a condition)")
        return (_picked if plan.group.pick else _grouped)(plan.group, conditions, p, cap, notes)
    if intent == "count":
        if plan.semantic:
            notes.append(f"the count does not apply {plan.semantic!r} (a meaning, not a condition)")
        return CompiledQuery(sql=_count_sql(conditions), params=p.values, kind="count", cap=cap, notes=tuple(notes))

    qvec = None if vector is None else [float(x) for x in vector]
    if qvec is not None and len(qvec) != vs.dim:
        raise PlanError(f"The query vector has {len(qvec)} values; the catalog's embeddings have {vs.dim}.")
    phrases: dict[str, str] = {}
    if plan.semantic and qvec is None:
        notes.append(f"not ordered by closeness to {plan.semantic!r} (no query embedding)")

    # Ranked questions: nearest to the anchors or to the query vector.
    target = None
    if intent in ("similar", "recommend") and plan.anchors:
        p.add("anchors", [int(i) for i in plan.anchors])
        if not set(plan.anchors) <= set(plan.filters.exclude_ids):  # (the reader often excludes them already)
            conditions.append("m.id <> ALL(CAST(:anchors AS int[]))")
        target = vs.anchor_mean
        conditions.append(f"{vs.anchor_mean} IS NOT NULL")
    elif (intent in ("similar", "search", "recommend") or (intent == "fact" and not plan.anchors)) and qvec is not None:
        # (a fact about a film described, not named: "who directed the one about the shark?")
        target = "CAST(:qvec AS vector)"
    elif intent == "similar":
        raise PlanError("A 'similar' plan needs the titles it is similar to (anchors) or a query vector.")
    if target is not None:
        if target.startswith("CAST(:qvec"):
            p.add("qvec", qvec)
            phrases["qvec"] = plan.semantic or ""
        return _ranked(plan, conditions, p, vs, target, metric, cap, k, phrases, notes, tail, vector_plan,
                       filters_where)

    # Sets: list, fact, superlative, and search/recommend without a vector.
    filtered = bool(conditions)
    if intent == "fact" and plan.anchors:
        conditions.insert(0, f"m.id = ANY(CAST({p.add('anchors', [int(i) for i in plan.anchors])} AS int[]))")
    sort = plan.sort
    limit = plan.limit
    if intent == "superlative":
        if sort is None:
            raise PlanError("A superlative plan needs a sort key (longest: duration_min, oldest: year, ...).")
        limit = limit or SUPERLATIVE_LIMIT
    if intent in ("search", "recommend") and sort is None:
        limit = limit or k
        if intent == "recommend":
            notes.append("ranked by average rating (no titles to start from)")
    if sort is not None and limit is not None:
        conditions.append(f"{_sort_expr(sort.key)} IS NOT NULL")
    pooled = qvec is not None and bool(plan.semantic) and sort is not None and not filtered
    if intent == "superlative" and plan.rank is not None and pooled:
        notes.append(f"the top rows, not the one ranked {plan.rank} (among the films closest to a phrase)")
    elif intent == "superlative" and sort is not None and plan.rank is not None:
        # "the second longest": the rows holding the rank-th distinct value among the filtered ones
        expr, where = _sort_expr(sort.key), _where(conditions).replace("\n", " ")
        offset = p.add("rank_offset", plan.rank - 1)
        conditions.append(
            f"{expr} = (SELECT DISTINCT {expr} FROM movies m{where} "
            f"ORDER BY {expr}{' DESC' if sort.desc else ''} OFFSET {offset} LIMIT 1)"
        )

    select = _SELECT
    semantic = qvec is not None and bool(plan.semantic)
    keys = []
    if sort is not None:
        keys.append(_order(sort.key, sort.desc))
    elif intent == "recommend":
        keys += ["m.avg_rating DESC NULLS LAST", "m.num_ratings DESC NULLS LAST"]
    elif intent == "fact" and plan.anchors:
        keys.append("array_position(CAST(:anchors AS int[]), m.id)")
    elif ids is not None and not semantic:  # a follow-up keeps the previous answer's order
        keys.append("array_position(CAST(:ids AS int[]), m.id)")
    ranked = intent in ("search", "recommend")
    count_sql: str | None = _count_sql(conditions)
    if semantic:
        phrases["qvec"] = plan.semantic or ""
        distance = vs.distance(metric, "CAST(" + p.add("qvec", qvec) + " AS vector)")
        keys.append("distance")
    vector_k: int | None = None
    vector_where = ""
    if pooled:
        # "the longest film about space": a phrase alone selects no exact set, so the sort and
        # limit apply to the SEMANTIC_POOL rows closest to it.
        pool_conditions = [*conditions, f"{vs.vec} IS NOT NULL"]
        pool = _where(pool_conditions).replace("\n", "\n  ")
        head = (
            f"SELECT m.*\nFROM (SELECT {_SELECT}, {distance} AS distance\n  FROM movies m{vs.join}{pool}\n"
            f"  ORDER BY distance{tail}\n  LIMIT {p.add('pool', SEMANTIC_POOL)}) AS m"
        )
        vector_k, vector_where = SEMANTIC_POOL, " AND ".join(conditions)
        ranked, count_sql = True, None  # (chatbot.plans.pooled_scope says so in the answer)
    else:
        if semantic:
            select += f", {distance} AS distance"
        head = f"SELECT {select}\nFROM movies m{vs.join if semantic else ''}{_where(conditions)}"
    order = ", ".join([*keys, "m.id"]) if keys else _DEFAULT_ORDER

    bound = cap if limit is None else min(cap, int(limit))
    if keys == ["distance"] and vector_k is None:
        # Rows ordered by closeness alone: the first `bound` of them are a k-nearest read.
        order = "distance" + tail
        vector_k, vector_where = bound, " AND ".join(conditions)
    if limit is not None and plan.ties and sort is not None:
        # WITH TIES decides ties on the ORDER BY keys, so the id tie-break moves outside.
        outer = ", ".join(_ALIAS_M.sub("top.", key) if key != "distance" else "top.distance" for key in keys)
        sql = (
            f"SELECT top.*\nFROM ({head}\n  ORDER BY {', '.join(keys)}\n  FETCH FIRST "
            f"{p.add('limit', int(limit))} ROWS WITH TIES) AS top\nORDER BY {outer}, top.id\n"
            f"LIMIT {p.add('cap', cap)}"
        )
    else:
        sql = f"{head}\nORDER BY {order}\nLIMIT {p.add('cap' if limit is None else 'limit', bound)}"
    return CompiledQuery(
        sql=sql, params=p.values, kind="rows", ranked=ranked, bound=bound, count_sql=count_sql,
        metric=metric if semantic else None, cap=cap, phrases=phrases, notes=tuple(notes),
        vector_k=vector_k, vector_where=vector_where, vector_plan=vector_plan if vector_k else None,
        vectors=vs,
    )


def _ranked(
    plan: QueryPlan, conditions: list[str], p: _Params, vs: Vectors, target: str, metric: Metric,
    cap: int, k: int, phrases: dict[str, str], notes: list[str], tail: str,
    vector_plan: VectorPlan | None, filters_where: str,
) -> CompiledQuery:
    """Nearest rows to `target` among the filtered ones; a plan sort reorders those rows."""
    distance = vs.distance(metric, target)
    conditions.append(f"{vs.vec} IS NOT NULL")
    n = min(cap, int(plan.limit or k))
    sql = (
        f"SELECT {_SELECT}, {distance} AS distance\n"
        f"FROM movies m{vs.join}{_where(conditions)}\nORDER BY distance{tail}\nLIMIT {p.add('limit', n)}"
    )
    if plan.sort is not None:
        outer = _order(plan.sort.key, plan.sort.desc, "near")
        sql = f"SELECT near.*\nFROM ({sql}) AS near\nORDER BY {outer}, near.distance, near.id"
    return CompiledQuery(
        sql=sql, params=p.values, kind="rows", ranked=True, metric=metric, cap=cap,
        bound=n, phrases=phrases, notes=tuple(notes), vector_k=n, vector_where=filters_where,
        vector_plan=vector_plan, vectors=vs,
    )


# A group's names per film (a comma list or an array, trimmed; a year or its decade).
_GROUP_NAMES: Mapping[GroupKey, str] = {
    "director": r"SELECT btrim(x) FROM regexp_split_to_table(m.director, ',') AS x",
    "country": r"SELECT btrim(x) FROM regexp_split_to_table(m.country, ',') AS x",
    "language": r"SELECT btrim(x) FROM regexp_split_to_table(m.language, ',') AS x",
    "actor": "SELECT btrim(x) FROM unnest(m.actors) AS x",
    "writer": "SELECT btrim(x) FROM unnest(m.writers) AS x",
    "genre": "SELECT btrim(x) FROM unnest(m.genres) AS x",
    "year": "SELECT m.year::text",
    "decade": "SELECT (m.year / 10 * 10)::text || 's'",
}


def _picked(group: Group, conditions: list[str], p: _Params, cap: int, notes: list[str]) -> CompiledQuery:
    """Each group's films at the top of `group.pick` ("the longest film of each decade"), ties
    kept: film rows with their `group_name`, groups in name (or time) order."""
    assert group.pick is not None
    expr = _sort_expr(group.pick.key)
    conditions = [*conditions, "g.name IS NOT NULL", "g.name <> ''", f"{expr} IS NOT NULL"]
    body = f"FROM movies m CROSS JOIN LATERAL ({_GROUP_NAMES[group.by]}) AS g(name){_where(conditions)}"
    place = f"rank() OVER (PARTITION BY g.name ORDER BY {expr}{' DESC' if group.pick.desc else ''})"
    columns = ", ".join(f"top.{c}" for c in PLAN_COLUMNS)
    sql = (f"SELECT {columns}, top.group_name\nFROM (SELECT {_SELECT}, g.name AS group_name, {place} AS place\n"
           f"{body}) AS top\nWHERE top.place = 1\nORDER BY top.group_name, top.id\nLIMIT {p.add('cap', cap)}")
    count_sql = f"SELECT count(DISTINCT g.name) AS total\n{body}"
    return CompiledQuery(sql=sql, params=p.values, kind="rows", cap=cap, bound=cap, count_sql=count_sql,
                         notes=tuple(notes))


def _grouped(group: Group, conditions: list[str], p: _Params, cap: int, notes: list[str]) -> CompiledQuery:
    """One row per group of the filtered films: its name, its number of films, the figure (the
    count, or the avg/sum of `group.field` over its films that record it) and its films' ids."""
    conditions = [*conditions, "g.name IS NOT NULL", "g.name <> ''"]
    if group.field is not None:
        conditions.append(f"m.{group.field} IS NOT NULL")
    value = "count(DISTINCT m.id)" if group.field is None else f"{group.measure}(m.{group.field})"
    body = (f"FROM movies m CROSS JOIN LATERAL ({_GROUP_NAMES[group.by]}) AS g(name){_where(conditions)}\n"
            "GROUP BY g.name")
    if group.min_films > 1:
        body += f"\nHAVING count(DISTINCT m.id) >= {p.add('min_films', group.min_films)}"
    timely = group.by in ("year", "decade") and group.desc is None
    key = "g.name" if timely else f"value{'' if group.desc is False else ' DESC'}"
    select = (f"SELECT g.name AS name, count(DISTINCT m.id) AS films, {value} AS value, "
              f"array_agg(DISTINCT m.id ORDER BY m.id) AS ids\n{body}")
    if group.top is not None:
        # ties on the figure are kept; the names order them
        sql = (f"SELECT top.*\nFROM ({select}\n  ORDER BY {key}\n  FETCH FIRST {p.add('top', group.top)} ROWS WITH TIES)"
               f" AS top\nORDER BY {key.replace('g.name', 'top.name')}, top.name\nLIMIT {p.add('cap', cap)}")
        bound = min(cap, group.top)
    else:
        sql = f"{select}\nORDER BY {key if timely else key + ', g.name'}\nLIMIT {p.add('cap', cap)}"
        bound = cap
    count_sql = None if group.top is not None else f"SELECT count(*) AS total\nFROM (SELECT g.name\n{body}) AS groups"
    return CompiledQuery(sql=sql, params=p.values, kind="groups", cap=cap, bound=bound, count_sql=count_sql,
                         notes=tuple(notes))


# --- readable SQL -----------------------------------------------------------------------------

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_QUOTED = r"'(?:[^']|'')*'"
_VECTOR_CAST = re.compile(rf"CAST\((embed\({_QUOTED}\)) AS vector\)")
_ARRAY_CAST = re.compile(rf"CAST\((ARRAY\[(?:{_QUOTED}|[-\d.]+)(?:, (?:{_QUOTED}|[-\d.]+))*\]) AS (?:text|int)\[\]\)")


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def readable_sql(sql: str, params: Mapping[str, Any], phrases: Mapping[str, str] | None = None) -> str:
    """`sql` with each `:name` replaced by its value as a literal (a vector as `embed('phrase')`)."""
    phrases = phrases or {}

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            return m.group(0)
        if name in phrases:
            return f"embed({_literal(phrases[name])})"
        return _literal(params[name])

    out = _PARAM.sub(value, sql)
    # Casts that only typed a parameter are noise to a reader: embed('...'), ARRAY['a', 'b'].
    out = _VECTOR_CAST.sub(r"\1", out)
    return _ARRAY_CAST.sub(r"\1", out)


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlanResult:
    """What a plan found."""

    rows: list[dict[str, Any]]
    """Movie rows (PLAN_COLUMNS + score, distance), in answer order; empty for a count; for a
    group plan one row per group (name, films, value, ids)."""
    total: int
    """Rows matching the filters in the whole catalog (or scope), before limit and cap; for ranked
    rows (nearest k) simply how many came back: "the 10 closest", not "10 of 9,741"."""
    capped: bool
    """`cap` cut the rows: say "showing N of total"."""
    ranked: bool
    """Rows are the closest matches by embedding, not an exact set."""
    sql: str
    """The statement that ran (named parameters)."""
    params: dict[str, Any]
    readable: str
    """The same statement with values written in, for "How I found this"."""
    notes: tuple[str, ...] = ()

    @property
    def ids(self) -> list[int]:
        return [int(r["id"]) for r in self.rows if "id" in r]

    def hits(self) -> list[MovieHit]:
        """The rows as MovieHit (the graph's row type; language and writers are dropped)."""
        keep = set(MovieHit.__dataclass_fields__)
        out = []
        for r in self.rows:
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in r.items() if k in keep}
            out.append(MovieHit(**fields))
        return out


def _row_dicts(keys: Sequence[str], rows: Sequence[Sequence[Any]], metric: Metric | None) -> list[dict[str, Any]]:
    from retrieval.search import score_for

    out = []
    for values in rows:
        d = dict(zip(keys, values, strict=True))
        for c in ("genres", "actors", "writers"):
            d[c] = list(d[c] or [])
        distance = d.get("distance")
        if distance is not None and metric is not None:
            d["distance"], d["score"] = float(distance), float(score_for(metric, float(distance)))
        else:
            d["distance"], d["score"] = None, 0.0
        out.append(d)
    return out


def run_compiled(conn: Connection, compiled: CompiledQuery) -> PlanResult:
    """Execute `compiled` on `conn` (the caller owns the transaction; a vector plan's SET LOCALs
    are applied in it)."""
    params = dict(compiled.params)
    with planned(conn, compiled.vector_plan) if compiled.vector_plan is not None else nullcontext():
        result = conn.execute(compiled.statement(), params)
        keys = list(result.keys())
        fetched = result.all()
    readable = compiled.readable()
    if compiled.kind == "count":
        total = int(fetched[0][0])
        return PlanResult(rows=[], total=total, capped=False, ranked=False, sql=compiled.sql,
                          params=params, readable=readable, notes=compiled.notes)
    if compiled.kind == "groups":
        rows = [{"name": name, "films": int(films), "value": float(value), "ids": list(ids)}
                for name, films, value, ids in fetched]
    else:
        rows = _row_dicts(keys, fetched, compiled.metric)
    total = len(rows)
    if compiled.count_sql is not None and len(rows) >= compiled.bound:
        count_params = compiled.count_params()
        total = int(conn.execute(_statement(compiled.count_sql, None), count_params).scalar_one())
        readable += ";\n\n-- the rows reached the limit; all that match:\n" + readable_sql(
            compiled.count_sql, count_params
        )
    capped = len(rows) >= compiled.cap and total > len(rows)
    return PlanResult(rows=rows, total=total, capped=capped, ranked=compiled.ranked, sql=compiled.sql,
                      params=params, readable=readable, notes=compiled.notes)


def run_plan(
    source: Any, plan: QueryPlan, *, ids: Sequence[int] | None = None,
    vector: Sequence[float] | None = None, metric: Metric = "cosine", cap: int = PLAN_ROW_CAP,
    k: int = SEARCH_K, profile: Profile | str | None = None,
) -> PlanResult:
    """Compile `plan` and run it read-only on `source`: an Engine, a Connection, or a catalog with
    an `engine` (PgCatalog; its embedder then embeds `plan.semantic` when no `vector` is given,
    with the default profile only: another profile's caller passes that profile's `vector`)."""
    if vector is None and plan.semantic and as_profile(profile).default and hasattr(source, "embed") and plan.intent != "count":
        vector = source.embed(plan.semantic)
    options: dict[str, Any] = {"ids": ids, "vector": vector, "metric": metric, "cap": cap, "k": k, "profile": profile}
    compiled = compile_plan(plan, **options)
    if isinstance(source, Connection):
        return run_compiled(source, _with_vector_plan(source, compiled, plan, options))
    engine: Engine = source if isinstance(source, Engine) else source.engine
    with engine.connect().execution_options(postgresql_readonly=True) as conn:
        return run_compiled(conn, _with_vector_plan(conn, compiled, plan, options))


def _with_vector_plan(conn: Connection, compiled: CompiledQuery, plan: QueryPlan, options: dict[str, Any]) -> CompiledQuery:
    """`compiled` with its k-nearest part planned by `retrieval.indexing` on this connection
    (recompiled when the plan is HNSW, whose ORDER BY drops the id tie-break)."""
    if compiled.vector_k is None:
        return compiled
    vs = compiled.vectors
    vplan = plan_search(conn, k=compiled.vector_k, table=vs.table, from_sql="movies m" + vs.join,
                        where=compiled.vector_where, params=compiled.params)
    return compile_plan(plan, **options, vector_plan=vplan)


# Distinct catalog values per Vocabulary field, in one pass over the table (director, country and
# language are comma lists), and each person's film count in any role (`credits`).
_VOCABULARY_SQL = r"""
WITH x AS MATERIALIZED (
  SELECT m.id, x.kind, btrim(x.v) AS v
  FROM movies m CROSS JOIN LATERAL (
    SELECT 'directors', regexp_split_to_table(m.director, '\s*,\s*')
    UNION ALL SELECT 'countries', regexp_split_to_table(m.country, '\s*,\s*')
    UNION ALL SELECT 'languages', regexp_split_to_table(m.language, '\s*,\s*')
    UNION ALL SELECT 'actors', unnest(m.actors)
    UNION ALL SELECT 'writers', unnest(m.writers)
    UNION ALL SELECT 'genres', unnest(m.genres)
  ) AS x(kind, v)
)
SELECT kind, v, 0::bigint AS n FROM x WHERE v <> '' GROUP BY kind, v
UNION ALL
SELECT 'credits', v, count(DISTINCT id) FROM x
WHERE v <> '' AND kind IN ('directors', 'actors', 'writers') GROUP BY v
"""

VOCABULARY_KINDS = ("directors", "actors", "writers", "genres", "countries", "languages")


def load_vocabulary(conn: Connection) -> Vocabulary:
    """Every distinct value of the name columns, as the catalog spells them, and the films each
    person is credited on (one query)."""
    found: dict[str, set[str]] = {f: set() for f in VOCABULARY_KINDS}
    credits: dict[str, int] = {}
    for kind, value, n in conn.execute(_statement(_VOCABULARY_SQL, None)):
        if value is None:
            continue
        if kind == "credits":
            credits[value] = int(n)
        else:
            found[kind].add(value)
    return Vocabulary(
        directors=frozenset(found["directors"]), actors=frozenset(found["actors"]),
        writers=frozenset(found["writers"]), genres=frozenset(found["genres"]),
        countries=frozenset(found["countries"]), languages=frozenset(found["languages"]),
        credits=credits,
    )


def plan_json(plan: QueryPlan) -> str:
    """The plan as compact JSON without defaults (for logs and "How I found this")."""
    return json.dumps(plan.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
