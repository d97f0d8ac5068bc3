"""Similarity and search over the catalog in PostgreSQL + pgvector: the `Catalog` the graph uses.

Scores: every hit has `score` where higher means more similar, and for vector operators the raw
pgvector value in `distance`. Per metric (`d` is the operator's value):

    cosine   <=>  d = 1 - cos(a, b)              score = 1 - d          (the cosine similarity)
    l2       <->  d = Euclidean distance         score = 1 / (1 + d)
    inner    <#>  d = -(a . b)                   score = -d             (the inner product)
    l1       <+>  d = taxicab distance           score = 1 / (1 + d)
    hamming  <~>  d = differing bits of the      score = 1 - d / 384
                      binary_quantize()d vectors
    jaccard  <%>  d = 1 - |a & b| / |a | b|      score = 1 - d
                      on the same bit vectors

Search modes: `dense` scores 1 - cosine distance of the embedded text; `keyword` scores the
fraction of the query's words found plus ts_rank_cd of the any-word query normalised into [0, 1);
`hybrid` scores by reciprocal rank fusion, the sum of w / (60 + rank) over the two lists (ranks
from 1; w = 1 for the dense list; the keyword list holds the rows that match the most words, when
that is at least half of them, with w = 2 when they match every word, else 1), with the cosine
distance beside it.

How each vector read runs (an exact scan, ties broken by id, or HNSW with its ef_search and
iterative scan) is decided by `retrieval.indexing.plan_search` from the catalog's size and the
filter's estimated selectivity; this module only builds the SQL the plan asks for.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from retrieval.indexing import VectorPlan, plan_search
from retrieval.indexing import apply as apply_plan
from retrieval.plan import QueryPlan, Vocabulary
from retrieval.schema import EMBEDDING_DIM
from retrieval.text import fold, strip_accents
from retrieval.types import (
    AmbiguousTitle,
    Embedder,
    Metric,
    MovieHit,
    SearchFilters,
    SearchMode,
    UnknownTitle,
)

if TYPE_CHECKING:
    from retrieval.compile import PlanResult

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al.)."""
KEYWORD_WEIGHT_ALL_WORDS = 2.0
"""Fusion weight of the keyword list when its rows contain every word of the query (a name, a
title): such matches are precise, while the dense list always has *something* near."""
HYBRID_CANDIDATES = 50
"""Rows each side contributes to the fusion (at least; 4 * k when larger)."""
MAX_KEYWORDS = 32
"""Words of the text the keyword mode searches for."""
HYBRID_MAX_KEYWORDS = 12
"""Beyond this many words (a pasted plot) hybrid search leaves the keyword side out."""
BITS = EMBEDDING_DIM

_ANCHOR = "(SELECT a.embedding FROM movies a WHERE a.id = :anchor)"
_ANCHOR_BITS = f"(SELECT binary_quantize(a.embedding)::bit({BITS}) FROM movies a WHERE a.id = :anchor)"
_BITS = f"binary_quantize(m.embedding)::bit({BITS})"

# Fixed SQL per metric: the user picks a key, never text that reaches the SQL.
_DISTANCE_SQL: Mapping[str, str] = {
    "cosine": f"m.embedding <=> {_ANCHOR}",
    "l2": f"m.embedding <-> {_ANCHOR}",
    "inner": f"m.embedding <#> {_ANCHOR}",
    "l1": f"m.embedding <+> {_ANCHOR}",
    "hamming": f"{_BITS} <~> {_ANCHOR_BITS}",
    "jaccard": f"{_BITS} <%> {_ANCHOR_BITS}",
}


def score_for(metric: Metric, distance: float) -> float:
    """Map a raw pgvector distance to a score where higher is more similar (see module doc)."""
    if metric == "cosine" or metric == "jaccard":
        return 1.0 - distance
    if metric == "inner":
        return -distance
    if metric == "hamming":
        return 1.0 - distance / BITS
    if metric in ("l2", "l1"):
        return 1.0 / (1.0 + distance)
    raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(_DISTANCE_SQL)}.")


MOVIE_COLUMNS = (
    "m.id, m.title, m.year, m.genres, m.director, m.actors, m.summary, m.duration_min, "
    "m.avg_rating, m.num_ratings, m.poster_url, m.country"
)


def hit_from_row(row: Any, *, score: float, distance: float | None = None) -> MovieHit:
    """A MovieHit from a row selected with the `MOVIE_COLUMNS` list."""
    return MovieHit(
        id=row.id, title=row.title, year=row.year, score=float(score),
        distance=None if distance is None else float(distance),
        genres=tuple(row.genres or ()), director=row.director, actors=tuple(row.actors or ()),
        summary=row.summary, duration_min=row.duration_min, avg_rating=row.avg_rating,
        num_ratings=row.num_ratings, poster_url=row.poster_url, country=row.country,
    )


def _like(value: str) -> str:
    escaped = value.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_sql(filters: SearchFilters | None, alias: str = "m") -> tuple[str, dict[str, Any]]:
    """`AND ...` clauses (alias `m`) and their bound parameters; values are never in the text."""
    if filters is None or filters.is_empty():
        return "", {}
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.year_min is not None:
        clauses.append(f"{alias}.year >= :f_year_min")
        params["f_year_min"] = filters.year_min
    if filters.year_max is not None:
        clauses.append(f"{alias}.year <= :f_year_max")
        params["f_year_max"] = filters.year_max
    if filters.genres:
        clauses.append(
            f"ARRAY(SELECT lower(g) FROM unnest({alias}.genres) AS g) @> CAST(:f_genres AS text[])"
        )
        params["f_genres"] = [g.strip().lower() for g in filters.genres]
    if filters.director:
        clauses.append(f"{alias}.director ILIKE :f_director")
        params["f_director"] = _like(filters.director)
    for i, actor in enumerate(filters.actors):
        clauses.append(f"EXISTS (SELECT 1 FROM unnest({alias}.actors) AS act WHERE act ILIKE :f_actor{i})")
        params[f"f_actor{i}"] = _like(actor)
    for i, person in enumerate(filters.people):
        clauses.append(f"{alias}.people ILIKE :f_person{i}")
        params[f"f_person{i}"] = _like(person)
    if filters.ids:
        clauses.append(f"{alias}.id = ANY(CAST(:f_ids AS int[]))")
        params["f_ids"] = [int(i) for i in filters.ids]
    return "".join(f" AND {c}" for c in clauses), params


_PERSON_ROLES = text(
    "SELECT count(*) FILTER (WHERE director ILIKE :name) AS director, "
    "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(actors) a WHERE a ILIKE :name)) AS actor "
    "FROM movies"
)


@lru_cache(maxsize=256)
def _sql(statement: str, with_vector: bool = False) -> TextClause:
    """Compiled-once text for each distinct statement (the text depends only on code, not input)."""
    clause = text(statement)
    if with_vector:
        clause = clause.bindparams(bindparam("qvec", type_=VECTOR(EMBEDDING_DIM)))
    return clause


# --- keyword side -------------------------------------------------------------------------------

# Words that say "I want movies" rather than what about; dropped from the keyword side only.
_FILLER_PREFIX = re.compile(
    r"^\s*(?:(?:please\s+)?(?:show|find|give|get|recommend|suggest|list|search(?:\s+for)?|"
    r"look(?:ing)?\s+for|i\s+want|i'?m\s+looking\s+for|are\s+there|what\s+are)\s+(?:me\s+)?)?"
    r"(?:some\s+|any\s+|all\s+|the\s+|a\s+|good\s+|great\s+|best\s+)*"
    r"(?:movies?|films?|flicks?|pictures?)\s+"
    r"(?:with|starring|featuring|about|by|directed\s+by|from|where|in\s+which|that|on)\s+",
    re.IGNORECASE,
)
_STOPWORD_TEXT = """
a an the and or but of to in on at by for with from about into over under as is are was were be
been being it its this that these those there here i me my we our you your he him his she her
they them their who whom which what when where why how not no nor so than too very can will just
do does did has have had having some any all movie movies film films flick flicks starring
featuring directed show find give recommend like
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def keyword_terms(text_: str) -> list[str]:
    """The words of `text_` the keyword side searches for: filler and stop words dropped,
    de-duplicated, at most MAX_KEYWORDS."""
    stripped = _FILLER_PREFIX.sub("", text_, count=1)
    terms: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(stripped):
        low = word.lower()
        if low in _STOPWORDS or low in seen:
            continue
        seen.add(low)
        terms.append(low)
        if len(terms) == MAX_KEYWORDS:
            break
    return terms


def _keyword_sql(n_terms: int, where: str) -> str:
    """CTEs `q` (each word as a tsquery) and `kw` (id, matched words, score) over movies.

    A word counts as found when its raw form is anywhere in the document (names and titles are
    indexed 'simple') or its English stem is in the summary (indexed 'english'); the stem is not
    matched against names, so "Hanks" does not find Hank Azaria.
    score = matched words / n + ts_rank_cd(any word) normalised into [0, 1).
    """
    terms = ", ".join(
        f"plainto_tsquery('simple', :kw{i}) AS s{i}, plainto_tsquery('english', :kw{i}) AS e{i}"
        for i in range(n_terms)
    )
    any_word = " || ".join(f"q.s{i} || q.e{i}" for i in range(n_terms))
    matched = " + ".join(
        f"(m.search_doc @@ q.s{i} OR sd.doc @@ q.e{i})::int" for i in range(n_terms)
    )
    return (
        f"q AS (SELECT {terms}), "
        f"kw AS (SELECT m.id, ({matched}) AS matched, "
        f"({matched})::float8 / {n_terms} + ts_rank_cd(m.search_doc, {any_word}, 32) AS score "
        "FROM movies m CROSS JOIN q "
        "CROSS JOIN LATERAL (SELECT ts_filter(m.search_doc, '{c}') AS doc) sd "
        f"WHERE m.search_doc @@ ({any_word}){where})"
    )


def min_words_matched(n_terms: int) -> int:
    """Words a row must contain to join the hybrid fusion: half of them (rounded up)
    beyond two words, so a pasted plot's common words do not outvote its meaning."""
    return 1 if n_terms <= 2 else (n_terms + 1) // 2


def _keyword_params(terms: Sequence[str]) -> dict[str, str]:
    return {f"kw{i}": t for i, t in enumerate(terms)}


# --- title matching -----------------------------------------------------------------------------


def _fold(s: str) -> str:
    """Lower-case, accents removed, apostrophes dropped ("Schindler's" ~ "Schindlers")."""
    return fold(s).replace("'", "").replace("\u2019", "")


def _tokens(s: str, *, fold: bool) -> tuple[str, ...]:
    if fold:
        return tuple(re.findall(r"[^\W_]+", _fold(s)))
    plain = strip_accents(s).replace("'", "").replace("\u2019", "")
    return tuple(re.findall(r"[^\W_]+", plain))


def _case_insensitive(title: str) -> bool:
    """Titles of 2+ words or 5+ characters match in any case; shorter ones ("Up", "Heat") only
    as written, so "pick me up" is not the film Up."""
    return len(_tokens(title, fold=True)) >= 2 or len(title.strip()) >= 5


_YEAR_AFTER = re.compile(r"^\W{0,3}(\d{4})\b")
_ARTICLE = re.compile(r"^(?:The|A|An)\s+(\S.*)$")


class TitleRow(tuple[int, str, int | None]):
    """(id, title, year) of a row `find_titles` found, with `named`: the title or alternative
    title ("Amelie" for "Le fabuleux destin d'Amélie Poulain") the text names it by."""

    named: str

    def __new__(cls, row: tuple[int, str, int | None], named: str | None = None) -> TitleRow:
        self = super().__new__(cls, row)
        self.named = row[1] if named is None else named
        return self


class _TitleIndex:
    """All (id, title, year) of the catalog, indexed by token sequence for `find_titles`; a row's
    alternative titles (`akas`: id -> titles) name it too, where no catalog title says otherwise."""

    def __init__(self, rows: Sequence[tuple[int, str, int | None]], akas: Mapping[int, Sequence[str]] | None = None):
        self.rows = list(rows)
        self.folded: dict[tuple[str, ...], list[TitleRow]] = {}
        self.exact: dict[tuple[str, ...], list[TitleRow]] = {}
        self.by_lower: dict[str, list[TitleRow]] = {}
        self.numeric: dict[str, list[TitleRow]] = {}
        self.max_len = 1
        for row in self.rows:
            self._add(TitleRow(row))
        for row in self.rows:  # after every main title: see `_add`
            for aka in (akas or {}).get(row[0], ()):
                self._add(TitleRow(row, aka))

    def _add(self, row: TitleRow) -> None:
        alternative = row.named != row[1]

        def put(table: dict[Any, list[TitleRow]], key: Any) -> None:
            found = table.get(key, [])
            # An alternative title names its film only where no catalog title (or a title's
            # article-less form) has the same words: "Frankenstein" stays the film of that title.
            if row in found or alternative and any(r.named == r[1] for r in found):
                return
            table.setdefault(key, []).append(row)

        title = row.named
        put(self.by_lower, _fold(title).strip())
        if title.strip().isdigit():
            put(self.numeric, title.strip())  # "2012", "300": only as a quoted title (see find_titles)
            return
        # An alternative title of one word matches only as written, like "Godfather" below:
        # MovieLens's "Dreams" or "Quest" must not make "movies about dreams" name a film.
        if _case_insensitive(title) and not (alternative and len(_tokens(title, fold=True)) < 2):
            key = _tokens(title, fold=True)
            put(self.folded, key)
        else:
            key = _tokens(title, fold=False)
            put(self.exact, key)
        if key:
            self.max_len = max(self.max_len, len(key))
        # "Godfather" names The Godfather, but only capitalised: "a matrix" is not a film.
        if (m := _ARTICLE.match(title)) and m.group(1).strip():
            alias = _tokens(m.group(1), fold=False)
            if alias and alias != _tokens(title, fold=False):
                put(self.exact, alias)


class PgCatalog:
    """The catalog in PostgreSQL: title lookup, similar titles, dense/keyword/hybrid search."""

    def __init__(
        self, engine: Engine, embedder: Embedder, *, titles_ttl_s: float = 300.0,
        embedders: Callable[[str], Embedder] | None = None,
    ):
        self.engine = engine
        self.embedder = embedder
        self.embedders = embedders
        """Embedder per profile name (`retrieval.profiles.EmbedderCache`), for `profile=` searches."""
        self.titles_ttl_s = titles_ttl_s
        """Seconds before the cached title list is re-read (another process may have ingested)."""
        self._index: _TitleIndex | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._vocabulary: tuple[float, Vocabulary] | None = None

    # -- titles --

    def refresh(self) -> None:
        """Re-read the title cache now (call after an ingest in this process)."""
        with self._connect() as conn:
            rows = conn.execute(text("SELECT id, title, year, titles_aka FROM movies ORDER BY id")).all()
        index = _TitleIndex([(r.id, r.title, r.year) for r in rows], {r.id: r.titles_aka for r in rows if r.titles_aka})
        with self._lock:
            self._index, self._loaded_at = index, time.monotonic()
            self._vocabulary = None

    def vocabulary(self) -> Vocabulary:
        """The catalog's names, genres, countries and languages (cached like the titles)."""
        cached = self._vocabulary
        if cached is None or time.monotonic() - cached[0] > self.titles_ttl_s:
            from retrieval.compile import load_vocabulary

            with self._connect() as conn:
                cached = (time.monotonic(), load_vocabulary(conn))
            self._vocabulary = cached
        return cached[1]

    def run_plan(self, plan: QueryPlan, *, profile: str | None = None, **options: Any) -> PlanResult:
        """`retrieval.compile.run_plan` on this catalog. With `profile` (not the default) its
        vectors rank and order the rows, and its model embeds `plan.semantic` unless a `vector`
        (that model's) is given; else the catalog's embedder does."""
        from retrieval.compile import run_plan
        from retrieval.profiles import get_profile

        p = get_profile(profile)
        if not p.default and options.get("vector") is None and plan.semantic and plan.intent != "count":
            options["vector"] = self._profile_embedder(p.name).embed_query(plan.semantic)
        return run_plan(self, plan, profile=p, **options)

    def _profile_embedder(self, name: str) -> Embedder:
        if self.embedders is None:
            raise ValueError("This catalog was opened without per-profile embedders (embedders=).")
        return self.embedders(name)

    def _titles(self) -> _TitleIndex:
        if self._index is None or time.monotonic() - self._loaded_at > self.titles_ttl_s:
            self.refresh()
        assert self._index is not None
        return self._index

    def resolve(self, title: str, year: int | None = None) -> tuple[int, str, int | None]:
        """The one row titled `title` (case-insensitive; else accents and apostrophes ignored, or
        an alternative title: "Amelie", "Se7en"), narrowed by `year` when given.

        Raises AmbiguousTitle (several rows; pass a year) or UnknownTitle (with suggestions).
        "King Kong (1933)" is understood as title and year.
        """
        wanted = " ".join(title.split())
        rows = self._rows_titled(wanted)
        if not rows and year is None and (m := re.fullmatch(r"(.+?)\s*\((\d{4})\)", wanted)):
            wanted, year = m.group(1), int(m.group(2))
            rows = self._rows_titled(wanted)
        if not rows:
            raise UnknownTitle(wanted, self.suggest(wanted))
        if year is not None:
            picked = [r for r in rows if r[2] == year]
            if not picked:
                raise UnknownTitle(f"{wanted} ({year})", [f"{t} ({y})" if y else t for _, t, y in rows])
            rows = picked
        if len(rows) > 1:
            raise AmbiguousTitle(wanted, rows)
        return rows[0]

    def _rows_titled(self, title: str) -> list[tuple[int, str, int | None]]:
        with self._connect() as conn:
            found = conn.execute(
                _sql("SELECT id, title, year FROM movies WHERE lower(title) = lower(:t) "
                     "ORDER BY year NULLS LAST, id"),
                {"t": title},
            ).all()
        if found:
            return [(r.id, r.title, r.year) for r in found]
        named = {(r[0], r[1], r[2]) for r in self._titles().by_lower.get(_fold(title).strip(), [])}
        return sorted(named, key=lambda r: (r[2] is None, r[2] or 0, r[0]))  # year NULLS LAST, id

    def suggest(self, title: str, n: int = 5) -> list[str]:
        """Closest catalog titles to a title that is not in it: containing it, then look-alikes."""
        index = self._titles()
        want = _fold(title).strip()
        names = list(index.by_lower)
        out: list[str] = []
        if len(want) >= 3:
            pattern = re.compile(rf"\b{re.escape(want)}\b")
            containing = sorted((k for k in names if pattern.search(k)), key=len)
            out.extend(containing[:n])
        out.extend(difflib.get_close_matches(want, names, n=n, cutoff=0.6))
        seen: set[str] = set()
        titles: list[str] = []
        for key in out:
            if key in seen:
                continue
            seen.add(key)
            if (found := index.by_lower[key][0][1]) not in titles:  # an alternative title's film
                titles.append(found)
        return titles[:n]

    def find_titles(self, text_: str) -> list[tuple[int, str, int | None]]:
        """Catalog titles that occur in `text_`, longest first, whole words only.

        Titles of 2+ words or 5+ characters match in any case (accents and apostrophes ignored);
        shorter ones only as written, as is a title without its leading article ("Godfather");
        all-digit titles ("2012", "300") only inside quotes, since
        they are usually years or counts. When several rows share a title and a year follows it
        in the text ("King Kong (1933)"), only that row is returned. A row's alternative titles
        (`movies.titles_aka`: "Amelie", "Se7en") find it the same way, one-word ones only as
        written; each row found is a `TitleRow` (its main title, and `named`: what found it).
        """
        index = self._titles()
        folded_tokens = _tokens(text_, fold=True)
        exact_tokens = _tokens(text_, fold=False)
        spans: list[tuple[int, int, list[TitleRow]]] = []
        # The two tokenisations split identically (same pattern on the same characters).
        if len(folded_tokens) == len(exact_tokens):
            for i in range(len(folded_tokens)):
                for n in range(min(index.max_len, len(folded_tokens) - i), 0, -1):
                    rows = index.folded.get(folded_tokens[i:i + n]) or index.exact.get(exact_tokens[i:i + n])
                    if rows:
                        spans.append((i, n, rows))
        for number, rows in index.numeric.items():
            if re.search(rf"[\"'\u201c\u2018\u00ab]{re.escape(number)}[\"'\u201d\u2019\u00bb]", text_):
                spans.append((-1, 1, rows))
        # Greedy: longest spans first, skipping any that overlap a longer one already taken.
        spans.sort(key=lambda s: (-s[1], s[0]))
        taken: list[tuple[int, int]] = []
        found: list[tuple[int, str, int | None]] = []
        for start, n, named in spans:
            if start >= 0 and any(start < e and s < start + n for s, e in taken):
                continue
            if start >= 0:
                taken.append((start, start + n))
            if len(named) > 1:
                named = self._narrow_by_year(text_, named) or named
            found.extend(r for r in named if r not in found)
        return found

    @staticmethod
    def _narrow_by_year(text_: str, rows: list[TitleRow]) -> list[TitleRow]:
        title = rows[0].named  # as the text wrote it
        for m in re.finditer(re.escape(title), text_, re.IGNORECASE):
            after = _YEAR_AFTER.match(text_[m.end():])
            if after:
                return [r for r in rows if r[2] == int(after.group(1))]
        return []

    # -- vector plumbing --

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection for one read without a vector ordering: autocommit, no extra round trips."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def _vector_read(self, k: int, where: str, params: Mapping[str, Any]) -> Iterator[tuple[Connection, VectorPlan]]:
        """A transaction for one k-nearest read, run as `retrieval.indexing` decides for this
        catalog's size and the filter `where` (the plan's SET LOCALs are already applied)."""
        with self.engine.connect() as conn:
            plan = plan_search(conn, k=int(k), where=where, params=params, rows=len(self._titles().rows))
            apply_plan(conn, plan)
            yield conn, plan

    # -- similar --

    def similar(
        self, title: str, *, year: int | None = None, metric: Metric = "cosine", k: int = 10,
        filters: SearchFilters | None = None, profile: str | None = None,
    ) -> list[MovieHit]:
        """The k movies nearest to the catalog title `title` by `metric`, itself excluded
        (`profile`: whose vectors; see retrieval/profiles.py)."""
        if metric not in _DISTANCE_SQL:
            raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(_DISTANCE_SQL)}.")
        anchor, _, _ = self.resolve(title, year)
        return self.similar_to_id(anchor, metric=metric, k=k, filters=filters, profile=profile)

    def similar_to_id(
        self, anchor: int, *, metric: Metric = "cosine", k: int = 10,
        filters: SearchFilters | None = None, profile: str | None = None,
    ) -> list[MovieHit]:
        """Like `similar` for a known row id."""
        if profile is not None and profile != "minilm":
            from retrieval import profiles, profiles_store

            return profiles_store.similar_to_id(
                self.engine, profiles.get_profile(profile), anchor, metric=metric, k=k, filters=filters,
            )
        distance = _DISTANCE_SQL[metric]
        where, params = filter_sql(filters)
        with self._vector_read(k, where, params) as (conn, plan):
            statement = (
                f"SELECT {MOVIE_COLUMNS}, {distance} AS distance FROM movies m "
                f"WHERE m.id <> :anchor AND m.embedding IS NOT NULL{where} "
                f"AND {_ANCHOR} IS NOT NULL "
                f"ORDER BY distance{plan.order_tail()} LIMIT :k"
            )
            rows = conn.execute(_sql(statement), {"anchor": anchor, "k": int(k), **params}).all()
        return [hit_from_row(r, score=score_for(metric, r.distance), distance=r.distance) for r in rows]

    # -- search --

    def embed(self, text_: str) -> list[float]:
        return list(self.embedder.embed_query(text_))

    def search(
        self, text: str, *, mode: SearchMode = "hybrid", k: int = 10,
        filters: SearchFilters | None = None, vector: Sequence[float] | None = None,
        profile: str | None = None,
    ) -> list[MovieHit]:
        """Movies matching free text (a question, a few words, a pasted plot).

        `vector` is the already-embedded `text` (saves embedding it again). `profile` (not the
        default) ranks the meaning side by that profile's vectors; hybrid then fuses that list with
        the keyword list by plain reciprocal-rank fusion (weight 1 each).
        """
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"Unknown search mode {mode!r}; use hybrid, dense or keyword.")
        if not text.strip() and vector is None:
            return []
        if mode == "keyword":
            return self._keyword(text, k, filters)
        if profile is not None and profile != "minilm":
            return self._profile_search(text, mode, k, filters, profile)
        qvec = list(vector) if vector is not None else self.embed(text)
        if mode == "dense":
            return self._dense(qvec, k, filters)
        return self._hybrid(text, qvec, k, filters)

    def _profile_search(
        self, text_: str, mode: SearchMode, k: int, filters: SearchFilters | None, profile: str,
    ) -> list[MovieHit]:
        from retrieval import profiles, profiles_store

        p = profiles.get_profile(profile)
        embedder = self._profile_embedder(p.name)
        n = k if mode == "dense" else max(HYBRID_CANDIDATES, 4 * int(k))
        dense = profiles_store.dense_search(self.engine, p, embedder.embed_query(text_), k=n, filters=filters)
        if mode == "dense":
            return dense
        terms = keyword_terms(text_)
        keyword = self._keyword(text_, n, filters) if 0 < len(terms) <= HYBRID_MAX_KEYWORDS else []
        fused: dict[int, float] = {}
        for rank, hit in enumerate(dense, 1):
            fused[hit.id] = 1.0 / (RRF_K + rank)
        for rank, hit in enumerate(keyword, 1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank)
        by_id = {h.id: h for h in (*keyword, *dense)}
        order = sorted(fused, key=lambda i: (-fused[i], by_id[i].distance or 2.0, i))[:k]
        return [replace(by_id[i], score=fused[i]) for i in order]

    def _dense(self, qvec: list[float], k: int, filters: SearchFilters | None) -> list[MovieHit]:
        where, params = filter_sql(filters)
        with self._vector_read(k, where, params) as (conn, plan):
            statement = (
                f"SELECT {MOVIE_COLUMNS}, m.embedding <=> CAST(:qvec AS vector) AS distance FROM movies m "
                f"WHERE m.embedding IS NOT NULL{where} "
                f"ORDER BY distance{plan.order_tail()} LIMIT :k"
            )
            rows = conn.execute(_sql(statement, True), {"qvec": qvec, "k": int(k), **params}).all()
        return [hit_from_row(r, score=1.0 - r.distance, distance=r.distance) for r in rows]

    def _keyword(self, text_: str, k: int, filters: SearchFilters | None) -> list[MovieHit]:
        terms = keyword_terms(text_)
        if not terms:
            return []
        where, params = filter_sql(filters)
        statement = (
            f"WITH {_keyword_sql(len(terms), where)} "
            f"SELECT {MOVIE_COLUMNS}, kw.score FROM kw JOIN movies m ON m.id = kw.id "
            "WHERE kw.matched > 0 ORDER BY kw.score DESC, m.id LIMIT :k"
        )
        with self._connect() as conn:
            rows = conn.execute(_sql(statement), {"k": int(k), **params, **_keyword_params(terms)}).all()
        return [hit_from_row(r, score=r.score) for r in rows]

    def _hybrid(
        self, text_: str, qvec: list[float], k: int, filters: SearchFilters | None,
    ) -> list[MovieHit]:
        terms = keyword_terms(text_)
        if len(terms) > HYBRID_MAX_KEYWORDS:
            terms = []  # a pasted plot: its meaning is in the dense side, its words are noise
        where, params = filter_sql(filters)
        n = max(HYBRID_CANDIDATES, 4 * int(k))
        if terms:
            # Only the rows that match the most words join the fusion, and only when that is at
            # least half the words; when they match every word they count double.
            keyword = (
                f"{_keyword_sql(len(terms), where)}, "
                "best AS (SELECT max(matched) AS best FROM kw), "
                "kw_ranked AS (SELECT id, row_number() OVER (ORDER BY score DESC, id) AS r, "
                f"CASE WHEN best = {len(terms)} THEN {KEYWORD_WEIGHT_ALL_WORDS} ELSE 1.0 END AS w "
                "FROM (SELECT id, score, best FROM kw, best "
                "WHERE matched = best AND best >= :min_match "
                "ORDER BY score DESC, id LIMIT :n) t)"
            )
        else:
            keyword = "kw_ranked AS (SELECT NULL::int AS id, NULL::bigint AS r, 1.0 AS w WHERE false)"
        with self._vector_read(n, where, params) as (conn, plan):
            dense = (
                "dense AS (SELECT id, row_number() OVER (ORDER BY d, id) AS r FROM ("
                "SELECT m.id, m.embedding <=> CAST(:qvec AS vector) AS d FROM movies m "
                f"WHERE m.embedding IS NOT NULL{where} ORDER BY d{plan.order_tail()} LIMIT :n) s)"
            )
            statement = (
                f"WITH {dense}, {keyword}, "
                "fused AS (SELECT coalesce(dense.id, kw.id) AS id, "
                f"coalesce(1.0 / ({RRF_K} + dense.r), 0) + coalesce(kw.w / ({RRF_K} + kw.r), 0) AS score "
                "FROM dense FULL OUTER JOIN kw_ranked kw ON dense.id = kw.id) "
                f"SELECT {MOVIE_COLUMNS}, f.score, m.embedding <=> CAST(:qvec AS vector) AS distance "
                "FROM fused f JOIN movies m ON m.id = f.id "
                "ORDER BY f.score DESC, distance, m.id LIMIT :k"
            )
            rows = conn.execute(
                _sql(statement, True),
                {"qvec": qvec, "k": int(k), "n": n, "min_match": min_words_matched(len(terms)),
                 **params, **_keyword_params(terms)},
            ).all()
        return [hit_from_row(r, score=r.score, distance=r.distance) for r in rows]

    # -- rows --

    def get(self, ids: Sequence[int]) -> list[MovieHit]:
        """Rows by id, in the order given (unknown ids are skipped); score is 0."""
        wanted = [int(i) for i in ids]
        if not wanted:
            return []
        with self._connect() as conn:
            rows = conn.execute(
                _sql(f"SELECT {MOVIE_COLUMNS} FROM movies m WHERE m.id = ANY(CAST(:ids AS int[]))"),
                {"ids": wanted},
            ).all()
        by_id = {r.id: r for r in rows}
        out: list[MovieHit] = []
        for i in dict.fromkeys(wanted):
            if i in by_id:
                out.append(hit_from_row(by_id[i], score=0.0))
        return out

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM movies")).scalar_one())

    def person_roles(self, name: str) -> dict[str, int]:
        """How many films name `name` (case-insensitive substring) as director and as actor."""
        with self._connect() as conn:
            row = conn.execute(_PERSON_ROLES, {"name": _like(name)}).one()
        return {"director": int(row.director), "actor": int(row.actor)}


class StaticTitles:
    """`find_titles` over a fixed list of (id, title, year): PgCatalog's matching without a
    database, for benches and tests that judge answers against a known catalog."""

    def __init__(self, rows: Sequence[tuple[int, str, int | None]], akas: Mapping[int, Sequence[str]] | None = None):
        self._index = _TitleIndex(rows, akas)

    def _titles(self) -> _TitleIndex:
        return self._index

    _narrow_by_year = staticmethod(PgCatalog._narrow_by_year)

    def find_titles(self, text_: str) -> list[tuple[int, str, int | None]]:
        return PgCatalog.find_titles(self, text_)  # type: ignore[arg-type]
